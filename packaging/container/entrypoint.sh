#!/bin/sh
# entrypoint.sh: the container's entry point. Replaces itself with embargo
# (exec), so that embargo runs as PID 1 and receives the SIGTERM of
# `docker stop` / `podman stop` directly; it stops cleanly on it.
#
#   (no arguments)          embargo serve -c "$EMBARGO_CONFIG"
#   --at TIME ...           embargo serve -c "$EMBARGO_CONFIG" --at TIME ...
#   check|explain|firewall|rpz|report|serve ARGS...
#                           that subcommand, with -c "$EMBARGO_CONFIG"
#   --help, --version       embargo --help / --version
#
# EMBARGO_CONFIG  the config file (default /etc/embargo/embargo.yaml)
# EMBARGO_BIN     the binary (default /usr/local/bin/embargo; for tests)
# EMBARGO_LISTEN, EMBARGO_UPSTREAMS, EMBARGO_HTTP, EMBARGO_LOG_QUERIES are
# read by embargo itself and override the file. An empty one is removed here,
# so `-e EMBARGO_LISTEN=` falls back to the file's value (embargo would
# reject an empty list).
set -eu

bin=${EMBARGO_BIN:-/usr/local/bin/embargo}
config=${EMBARGO_CONFIG:-/etc/embargo/embargo.yaml}

for var in EMBARGO_LISTEN EMBARGO_UPSTREAMS EMBARGO_HTTP EMBARGO_LOG_QUERIES; do
	eval "val=\${$var-}"
	if [ -z "$val" ]; then
		unset "$var"
	fi
done

case "${1-}" in
check | explain | firewall | rpz | report | serve)
	cmd=$1
	shift
	exec "$bin" "$cmd" -c "$config" "$@"
	;;
-h | --help | help | -V | --version)
	exec "$bin" "$@"
	;;
esac
exec "$bin" serve -c "$config" "$@"
