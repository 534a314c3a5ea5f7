# Airlock's bash entry point: started with `bash -c`, it waits for one request on fd 3, applies the working
# directory and environment, writes the call's files (connectors' credentials, in the sandbox's own /run), then runs
# the rest of fd 3 (the code) as a script file.
printf R >&4
IFS= read -r -d '' -u 3 airlock_cwd
IFS= read -r -d '' -u 3 airlock_count
for ((airlock_index = 0; airlock_index < airlock_count; airlock_index++)); do
  IFS= read -r -d '' -u 3 airlock_entry
  export "$airlock_entry"
done
IFS= read -r -d '' -u 3 airlock_count
for ((airlock_index = 0; airlock_index < airlock_count; airlock_index++)); do
  IFS= read -r -d '' -u 3 airlock_path
  IFS= read -r -d '' -u 3 airlock_content
  (umask 077 && /bin/mkdir -p -- "${airlock_path%/*}" && printf '%s' "$airlock_content" > "$airlock_path") || exit 1
done
# The script is copied to a file: reopening the pipe through /dev/fd would wait for a writer that may be gone. Short
# code comes with its length in bytes and is read by the shell itself (LC_ALL=C: -N counts bytes, not characters);
# longer code, or code with NUL, comes without and is copied by `cat`.
IFS= read -r -d '' -u 3 airlock_length
if [[ -n $airlock_length ]]; then
  LC_ALL=C IFS= read -r -N "$airlock_length" -u 3 airlock_code
  printf '%s' "$airlock_code" > /run/airlock/main.sh || exit 1
else
  /bin/cat <&3 > /run/airlock/main.sh || exit 1
fi
exec 3<&-
cd -- "$airlock_cwd" || exit 1
unset airlock_cwd airlock_count airlock_index airlock_entry airlock_path airlock_content airlock_length airlock_code
# bash has no monotonic clock: the server times this report's arrival instead.
printf 'S\n' >&4
exec 4>&-
exec /bin/bash /run/airlock/main.sh
