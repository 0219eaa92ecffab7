#!/bin/sh
# declared-services.sh FILE: the Consul services that the declaration of
# routes FILE (build/config/services.conf; the images' /etc/grpc-lb/
# services.conf) declares, one a line in its order, once it has checked the
# whole file. The ACL bootstrap job (acl-bootstrap.sh, in the container's
# busybox sh) makes each declared service's policies and tokens from this
# list and build/scripts/secrets.sh (on the host) its token files, so both
# refuse the same files.
#
# A bad file: exit 1 and ONE line on stdout, "FILE:LINE: the value; accepted:
# what is", for the first bad line; nothing else is printed then. The
# grammar is build/routes' (Parse), character for character:
#   - "#" starts a comment; words are separated by blanks;
#   - a line is a Consul service, ^[a-z][a-z0-9_]{0,62}$, then one or more
#     gRPC services, ^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$;
#   - at most 1000 characters (its words joined by one space);
#   - each Consul service and each gRPC service on one line only;
#   - at least one Consul service.
# And one rule of the ACLs' own: a service's replicas are the Consul nodes
# named <name with "-" for "_">-* (its node prefix, which its agent token
# may write and consul-template's token read), so no node prefix may start
# another's, nor start or be started by the load balancer's
# ("load-balancer-") or the Consul servers' ("consul-server-"): "hello" next
# to "hello_server" would give hello's tokens the hello_server replicas'
# nodes.
#
# POSIX sh and awk (no interval expressions, which older awks lack), so it
# runs the same under busybox and on the host; LC_ALL=C counts bytes, as Go.
set -eu
if [ $# -ne 1 ]; then
    echo "usage: declared-services.sh FILE"
    exit 2
fi
if [ ! -f "$1" ] || [ ! -r "$1" ]; then
    echo "$1: cannot read the declaration of routes; accepted: a readable file (build/config/services.conf)"
    exit 1
fi
export declaration="$1" LC_ALL=C
exec awk '
function refuse(msg) {
    printf "%s:%d: %s\n", ENVIRON["declaration"], FNR, msg
    refused = 1
    exit 1
}
# quote: s in double quotes, with \ and " escaped, as Go %q has them (an
# printable ASCII value reads the same in both).
function quote(s,    r, i, c) {
    r = "\""
    for (i = 1; i <= length(s); i++) {
        c = substr(s, i, 1)
        if (c == "\"" || c == "\\")
            r = r "\\"
        r = r c
    }
    return r "\""
}
# overlap: whether node prefixes a and b overlap (one starts the other).
function overlap(a, b) {
    return index(a, b) == 1 || index(b, a) == 1
}
{
    line = $0
    sub(/#.*/, "", line)
    # Blanks as Go strings.Fields sees them (ASCII ones).
    gsub(/[\t\r\f\v]/, " ", line)
    n = split(line, word, " ")
    if (n == 0)
        next
    joined = word[1]
    for (i = 2; i <= n; i++)
        joined = joined " " word[i]
    if (length(joined) > 1000)
        refuse(sprintf("a line of %d characters; accepted: at most 1000", length(joined)))
    s = word[1]
    if (s !~ /^[a-z][a-z0-9_]*$/ || length(s) > 63)
        refuse(sprintf("Consul service %s; accepted: a name matching ^[a-z][a-z0-9_]{0,62}$", quote(s)))
    if (s in consul)
        refuse(sprintf("Consul service %s is declared on line %d already; accepted: one line per Consul service", quote(s), consul[s]))
    if (n < 2)
        refuse(sprintf("Consul service %s with no gRPC service; accepted: the Consul service, then one or more gRPC services", quote(s)))
    consul[s] = FNR
    for (i = 2; i <= n; i++) {
        g = word[i]
        if (g !~ /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/)
            refuse(sprintf("gRPC service %s; accepted: a gRPC full name, dot-separated identifiers (^[A-Za-z_][A-Za-z0-9_]*(\\.[A-Za-z_][A-Za-z0-9_]*)*$)", quote(g)))
        if (g in grpc)
            refuse(sprintf("gRPC service %s is declared on line %d already; accepted: each gRPC service on one line", quote(g), grpc[g]))
        grpc[g] = FNR
    }
    prefix = s "-"
    gsub(/_/, "-", prefix)
    if (overlap(prefix, "load-balancer-") || overlap(prefix, "consul-server-"))
        refuse(sprintf("Consul service \"%s\", whose replicas would be the Consul nodes \"%s*\"; accepted: a name whose node prefix (\"-\" for \"_\", then \"-\") neither starts nor is started by \"load-balancer-\" or \"consul-server-\"", s, prefix))
    for (i = 1; i <= count; i++)
        if (overlap(prefix, prefixes[i]))
            refuse(sprintf("Consul service \"%s\", whose replicas would be the Consul nodes \"%s*\", overlapping \"%s*\" of \"%s\" on line %d; accepted: node prefixes (\"-\" for \"_\", then \"-\") of which none starts another", s, prefix, prefixes[i], services[i], consul[services[i]]))
    count++
    services[count] = s
    prefixes[count] = prefix
}
END {
    if (refused)
        exit 1
    if (count == 0) {
        # At the line after the last, as build/routes has it.
        printf "%s:%d: no Consul service is declared; accepted: at least one line \"<Consul service> <gRPC service>...\"\n", ENVIRON["declaration"], NR
        exit 1
    }
    for (i = 1; i <= count; i++)
        print services[i]
}' "$1"
