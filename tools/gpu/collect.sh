#!/bin/bash
# After a training call of tools/gpu/session.sh: puts the untracked files back
# (`prepare.sh restore`), joins the resume.pt pieces the call copied back, checks them against
# their SHA256 file (each piece and the whole), installs the whole as the run's resume.pt and
# appends the call's train.log to the run's dated GPU log.
#   tools/gpu/collect.sh FILES_AT      # the folder the device tool reports as files_at
# env: RUN (default train/runs/progic-s), LOG (default $RUN/h200-<today>.log).
# Nothing is replaced unless every check passes; a resume.pt at an older step than the one
# installed is refused (a call that could not train sends back the step it started from).
set -eu
cd "$(dirname "$0")/../.."
[ $# -eq 1 ] || { echo "usage: $0 FILES_AT" >&2; exit 64; }
src=$1
RUN=${RUN:-train/runs/progic-s}
LOG=${LOG:-$RUN/h200-$(date -u +%Y-%m-%d).log}
tools/gpu/prepare.sh restore
[ -f "$src/SHA256" ] || { echo "$src/SHA256 missing: the call saved no resume.pt" >&2; exit 1; }
(cd "$src" && grep ' resume\.pt\.[0-9]*$' SHA256 | sha256sum -c --quiet) ||
  { echo "a piece does not match $src/SHA256" >&2; exit 1; }
tmp=$(mktemp "$RUN/resume.pt.XXXXXX")
trap 'rm -f "$tmp"' EXIT
cat "$src"/resume.pt.[0-9]* >"$tmp"
want=$(awk '$2 == "-" { print $1 }' "$src/SHA256")
got=$(sha256sum "$tmp" | cut -d' ' -f1)
[ "$want" = "$got" ] || { echo "joined resume.pt: sha256 $got, expected $want" >&2; exit 1; }
# train/ckpt.py's loader (torch >= 2.6 refuses a full checkpoint's RNG state otherwise)
step() {
  /usr/bin/python3 -c 'import sys; sys.path.insert(0, "train"); import ckpt; print(ckpt.load(sys.argv[1])["step"])' "$1"
}
new=$(step "$tmp")
old=0
# an installed resume.pt that cannot be read stops the script (set -e) rather than counting as 0
if [ -f "$RUN/resume.pt" ]; then old=$(step "$RUN/resume.pt"); fi
[ "$new" -ge "$old" ] || { echo "resume.pt from the call is at step $new, the installed one at $old" >&2; exit 1; }
mv "$tmp" "$RUN/resume.pt"
trap - EXIT
[ -f "$src/train.log" ] && cat "$src/train.log" >>"$LOG"
echo "resume.pt: step $old -> $new ($got); log appended to $LOG"
