#!/usr/bin/perl
# Imitates: perlipc, "Internet TCP Clients and Servers" / "A Simple Server" with IO::Socket::INET
# (Listen => SOMAXCONN, Reuse => 1), forking a child per client as perlipc's server does, and the
# tutorial's loop: sysread 1024 bytes, write them back uppercased (tr/a-z/A-Z/), until EOF.
# The port from argv.
#
#     perl perl_fork_server.pl PORT
#
# Expected verdict: correct, concurrent: every TCP scenario passes. (A child that gets EPIPE or
# ECONNRESET ends only itself: SIGPIPE is ignored and write errors end the loop.)
use strict;
use warnings;
use IO::Socket::INET;
use POSIX ":sys_wait_h";

my $port = shift or die "usage: $0 PORT\n";
$SIG{CHLD} = sub { 1 while waitpid(-1, WNOHANG) > 0 };
$SIG{PIPE} = 'IGNORE';

my $server = IO::Socket::INET->new(
    Proto     => "tcp",
    LocalAddr => "127.0.0.1",
    LocalPort => $port,
    Listen    => SOMAXCONN,
    Reuse     => 1,
) or die "can't setup server: $@\n";

while (1) {
    my $client = $server->accept;
    unless ($client) {
        next if $!{EINTR};    # SIGCHLD interrupted accept
        die "accept: $!\n";
    }
    my $pid = fork;
    die "fork: $!\n" unless defined $pid;
    if ($pid == 0) {
        close $server;
        $client->autoflush(1);
        while (1) {
            my $n = sysread($client, my $buf, 1024);
            last unless $n;    # 0: EOF, undef: error (reset)
            $buf =~ tr/a-z/A-Z/;
            my $off = 0;
            while ($off < length $buf) {
                my $w = syswrite($client, $buf, length($buf) - $off, $off);
                exit 0 unless defined $w;    # EPIPE: the client is gone
                $off += $w;
            }
        }
        exit 0;
    }
    close $client;
}
