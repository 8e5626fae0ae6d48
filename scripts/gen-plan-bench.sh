#!/bin/sh
# A plan benchmark: N tenants (3 apps each: Nextcloud, HedgeDoc, Jitsi, on
# the two clusters of examples/collective), built, turned into a live
# snapshot of the same size, then planned. See docs/PERFORMANCE.md.
#
#   scripts/gen-plan-bench.sh 1000 /tmp/bench [path/to/jardin]
set -eu
N=${1:?number of tenants}
DIR=${2:?work directory}
JARDIN=${3:-target/release/jardin}
rm -rf "$DIR"
mkdir -p "$DIR/root/tenants"
cp examples/collective/jardin.ncl "$DIR/root/"
i=0
while [ "$i" -lt "$N" ]; do
  if [ $((i % 2)) -eq 0 ]; then cluster=louise-michel; else cluster=ada-lovelace; fi
  if [ $((i % 3)) -eq 0 ]; then plan=cooperative; else plan=essentiel; fi
  id=$(printf "asso-%05d" "$i")
  cat > "$DIR/root/tenants/$id.ncl" <<NCL
{
  id = "$id",
  display_name = "Association $i",
  cluster = "$cluster",
  plan = "$plan",
  zones = ["$id.org"],
  mail = { sending_domain = "$id.org", relay = "smtp-gw" },
  apps = {
    cloud = { app = "nextcloud", host = "cloud.$id.org" },
    pad = { app = "hedgedoc", host = "pad.$id.org" },
    meet = { app = "jitsi", host = "meet.$id.org" },
  },
}
NCL
  i=$((i + 1))
done
"$JARDIN" --no-cache build "$DIR/root" -o "$DIR/out"
python3 scripts/make-live-snapshot.py "$DIR/out" "$DIR/live"
echo "config root: $DIR/root, live snapshot: $DIR/live"
echo "plan: $JARDIN plan $DIR/root --live $DIR/live --format json -o $DIR/plan.json"
