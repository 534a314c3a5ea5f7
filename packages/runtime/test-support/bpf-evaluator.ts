/**
 * Evaluates a classic-BPF seccomp program on one system call, as the kernel would, so a test can tell the filter's
 * verdict apart from the kernel's own errno.
 */
export const AUDIT_ARCH: Partial<Record<NodeJS.Architecture, number>> = { x64: 0xc000003e, arm64: 0xc00000b7 };
export const AUDIT_ARCH_I386 = 0x40000003;
export const SECCOMP_RET_KILL_PROCESS = 0x80000000;
export const SECCOMP_RET_ERRNO = 0x00050000;
export const SECCOMP_RET_ALLOW = 0x7fff0000;
export const ERRNO = { EPERM: 1, ENOSYS: 38 } as const;

export function evaluateFilter(program: Buffer, arch: number, nr: number, args: readonly bigint[]): number {
  const data = Buffer.alloc(64);
  data.writeUInt32LE(nr >>> 0, 0);
  data.writeUInt32LE(arch >>> 0, 4);
  args.forEach((value, index) => data.writeBigUInt64LE(BigInt.asUintN(64, value), 16 + 8 * index));
  const scratch = new Uint32Array(16);
  let a = 0;
  let x = 0;
  for (let pc = 0; pc * 8 < program.length; pc++) {
    const offset = pc * 8;
    const code = program.readUInt16LE(offset);
    const jt = program.readUInt8(offset + 2);
    const jf = program.readUInt8(offset + 3);
    const k = program.readUInt32LE(offset + 4);
    switch (code) {
      case 0x20: // ld  [k]
        a = data.readUInt32LE(k);
        break;
      case 0x00: // ld  #k
        a = k;
        break;
      case 0x01: // ldx #k
        x = k;
        break;
      case 0x60: // ld  M[k]
        a = scratch[k] ?? 0;
        break;
      case 0x61: // ldx M[k]
        x = scratch[k] ?? 0;
        break;
      case 0x02: // st  M[k]
        scratch[k] = a;
        break;
      case 0x03: // stx M[k]
        scratch[k] = x;
        break;
      case 0x54: // and #k
        a = (a & k) >>> 0;
        break;
      case 0x44: // or  #k
        a = (a | k) >>> 0;
        break;
      case 0x07: // tax
        x = a;
        break;
      case 0x87: // txa
        a = x;
        break;
      case 0x05: // ja
        pc += k;
        break;
      case 0x15: // jeq #k
        pc += a === k ? jt : jf;
        break;
      case 0x25: // jgt #k
        pc += a > k ? jt : jf;
        break;
      case 0x35: // jge #k
        pc += a >= k ? jt : jf;
        break;
      case 0x45: // jset #k
        pc += (a & k) !== 0 ? jt : jf;
        break;
      case 0x06: // ret #k
        return k;
      case 0x16: // ret a
        return a;
      default:
        throw new Error(`unsupported BPF opcode 0x${code.toString(16)} at instruction ${pc}`);
    }
  }
  throw new Error('BPF program ran off its end');
}

