#!/usr/bin/perl
# Imitates: perlipc, "A Simple Client" / the interactive client with IO::Socket::INET
# (`while (<STDIN>) { print $sock $_; ... }`), made to follow the tutorial's protocol: strip the
# line, skip it when empty, send it, read back as many bytes as were sent, print. Like perlipc's
# example it never sets $| on STDOUT, so STDOUT is block-buffered when it is not a terminal.
# The port from argv.
#
#     perl perl_client.pl PORT
#
# Expected verdict: correct: every client scenario passes when run on a terminal. Under pipes its
# replies stay in the stdout buffer until it exits (a checker must say "printed nothing yet (is its
# output buffered?)", not "wrong reply"). If the server goes away or nothing listens, it dies with
# a one-line message (exit 255, no stack trace).
use strict;
use warnings;
use IO::Socket::INET;

my $port = shift or die "usage: $0 PORT\n";
my $sock = IO::Socket::INET->new(PeerAddr => "127.0.0.1", PeerPort => $port, Proto => "tcp")
    or die "cannot connect to port $port: $@\n";
$sock->autoflush(1);
$SIG{PIPE} = 'IGNORE';

while (my $line = <STDIN>) {
    $line =~ s/^\s+|\s+$//g;
    next unless length $line;
    print $sock $line or die "send: $!\n";
    my $reply = '';
    while (length($reply) < length($line)) {
        my $n = sysread($sock, my $buf, 1024);
        die "recv: $!\n" unless defined $n;
        die "the server closed the connection\n" unless $n;
        $reply .= $buf;
    }
    print "$reply\n";
}
close $sock;
