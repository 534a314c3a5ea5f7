/** The apt sources and options of an image build. */
export interface DebianSources {
  sources: string[];
  aptOptions: string[];
}

const SNAPSHOT = /^(https?:\/\/snapshot\.debian\.org\/archive)\/debian\/(\d{8}T\d{6}Z)\/?$/;

/**
 * A suite with its updates and security updates. A snapshot.debian.org mirror
 * (http://snapshot.debian.org/archive/debian/20250901T000000Z) fixes the archive at that moment: the security archive
 * is taken from the same moment unless named, and the archive's expired Release files are accepted.
 */
export function debianSources(options: { suite: string; mirror?: string; securityMirror?: string }): DebianSources {
  const mirror = (options.mirror ?? 'http://deb.debian.org/debian').replace(/\/+$/, '');
  const snapshot = SNAPSHOT.exec(mirror);
  const securityMirror =
    options.securityMirror ??
    (snapshot ? `${snapshot[1]}/debian-security/${snapshot[2]}` : 'http://deb.debian.org/debian-security');
  return {
    sources: [
      `deb ${mirror} ${options.suite} main`,
      `deb ${mirror} ${options.suite}-updates main`,
      `deb ${securityMirror.replace(/\/+$/, '')} ${options.suite}-security main`,
    ],
    aptOptions: snapshot ? ['Acquire::Check-Valid-Until "false"'] : [],
  };
}
