#!/usr/bin/perl
# Independent DKIM verifier for the tests: Perl's Mail::DKIM (Debian libmail-dkim-perl),
# asking the test DNS server on loopback for the keys.
# usage: dkim_verify.pl HOST PORT < message   -> prints "<result> d=<domain>" per signature
use strict;
use warnings;
use Mail::DKIM::Verifier;
use Net::DNS::Resolver;

my ($host, $port) = @ARGV;
my $resolver = Net::DNS::Resolver->new(nameservers => [$host], port => $port,
                                       recurse => 0, tcp_timeout => 5, udp_timeout => 5);
Mail::DKIM::DNS::resolver($resolver);
my $dkim = Mail::DKIM::Verifier->new();
while (<STDIN>) {
    s/\015?\012/\015\012/;   # the message may come with LF from a maildir
    $dkim->PRINT($_);
}
$dkim->CLOSE();
foreach my $sig ($dkim->signatures) {
    printf "%s d=%s h=%s %s\n", $sig->result, $sig->domain, join(':', $sig->headerlist),
        ($sig->result_detail || '');
}
print "none\n" unless $dkim->signatures;
