# shellcheck shell=bash
# After a test: nothing left behind. Sourced after common.sh and snaphost.sh (check_no_leftovers
# also after stargz-lazy.sh, for fused_pids). Each function is one check.
#   check_sigterm_exit                     sigterm-exit-0: snaphost (snaphost_terminate) exited 0
#   check_no_leftovers ROOT...             no-leftovers: no FUSE-serving process (or keeper) of any ROOT, and
#                                          nothing mounted below $W
#   check_clean_shutdown CHECK DIR [--wait-processes]
#                                          CHECK: snaphost exited 0, no socket of NAMES[@] left
#                                          (`sock NAME`), nothing mounted below DIR; with
#                                          --wait-processes also no process mentioning $W (the
#                                          idle FUSE-serving process exits within fusedIdleExitMs)

check_sigterm_exit() {
  if [[ $SNAPHOST_EXIT == 0 ]]; then e2e_pass sigterm-exit-0; else e2e_fail sigterm-exit-0 "snaphost exit status ${SNAPHOST_EXIT:-?}"; fi
}

check_no_leftovers() {
  local root left='' mounts
  for root in "$@"; do left+="$(fused_pids "$root" | tr '\n' ' ')$(fused_keeper_pids "$root" | tr '\n' ' ')"; done
  mounts=$(e2e_mounts_below "$W" | tr '\n' ' ')
  if [[ -z ${left// /} && -z $mounts ]]; then e2e_pass no-leftovers; else e2e_fail no-leftovers "processes: ${left:-none}; mounts: ${mounts:-none}"; fi
}

check_clean_shutdown() {
  local check=$1 dir=$2 wait=${3:-} n leftover='' mounts procs='' i
  for n in "${NAMES[@]}"; do [[ -e $(sock "$n") ]] && leftover+=" $(sock "$n")"; done
  mounts=$(e2e_mounts_below "$dir" | tr '\n' ' ')
  if [[ $wait == --wait-processes ]]; then
    for ((i = 0; i < 100; i++)); do
      procs=$(e2e_pids_mentioning "$W" | tr '\n' ' ')
      [[ -z $procs ]] && break
      sleep 0.1
    done
  fi
  if [[ $SNAPHOST_EXIT == 0 && -z $leftover && -z $mounts && -z $procs ]]; then
    e2e_pass "$check"
  else
    e2e_fail "$check" "exit=${SNAPHOST_EXIT:-?} sockets left:${leftover:- none} mounts left: ${mounts:-none} processes left: ${procs:-none}"
  fi
}
