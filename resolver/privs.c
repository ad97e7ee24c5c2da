/*
 * privs.c: root check, privilege drop, pid file.
 */
#include "resolver/privs.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Loopback, private (RFC 1918, ULA), link-local: not reachable from the
 * internet at large. A wildcard binds every address, public ones too. */
static bool is_public(const cfg_ip *ip)
{
	static const char *const private_nets[] = {
		"127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
		"169.254.0.0/16", "100.64.0.0/10", "::1/128", "fc00::/7", "fe80::/10",
	};
	for (size_t i = 0; i < sizeof(private_nets) / sizeof(private_nets[0]); i++) {
		cfg_net n;
		const char *why;
		if (cfg_net_parse(private_nets[i], &n, &why) == 0 && cfg_net_contains(&n, ip))
			return false;
	}
	return true;
}

int privs_check_root(const cfg *c, bool allow_root, char *err, size_t errlen)
{
	char a[CFG_ADDR_BUF];
	if (geteuid() != 0 || c->user || allow_root)
		return 0;
	for (size_t i = 0; i < c->n_listen; i++) {
		if (is_public(&c->listen[i].ip)) {
			snprintf(err, errlen,
				 "refusing to serve %s as root: set `user:` to drop privileges, "
				 "or pass --allow-root", cfg_addr_format(&c->listen[i], a));
			return -1;
		}
	}
	return 0;
}

int privs_drop(const char *user, char *err, size_t errlen)
{
	errno = 0;
	struct passwd *pw = getpwnam(user);
	if (!pw) {
		snprintf(err, errlen, "user %s: %s", user, errno ? strerror(errno) : "no such user");
		return -1;
	}
	if (setgroups(0, NULL) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0) {
		snprintf(err, errlen, "cannot become %s: %s", user, strerror(errno));
		return -1;
	}
	/* it must not be possible to get root back */
	if (pw->pw_uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
		snprintf(err, errlen, "could regain root after dropping to %s", user);
		return -1;
	}
	return 0;
}

int privs_write_pidfile(const char *path, char *err, size_t errlen)
{
	char text[32];
	int n = snprintf(text, sizeof(text), "%ld\n", (long)getpid());
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, text, (size_t)n) != n) {
		snprintf(err, errlen, "pid file %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}
