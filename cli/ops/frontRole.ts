/**
 * What a front is in a pair (campus.standbyFront): `primary` (it serves), `standby` or `fenced`, as
 * `ops failover` / `failback` write it (BBB_OVH_ROOT is empty on a real front). The recordings receiver
 * refuses while it says `standby` or `fenced`; a front that never switched has none.
 */
export const FRONT_ROLE_FILE = "${BBB_OVH_ROOT:-}/var/lib/bbb-ovh/front-role";
