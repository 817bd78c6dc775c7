#!/usr/bin/perl
# Mail::DKIM (Debian libmail-dkim-perl) as an independent DKIM verifier without DNS: the public
# key comes from the command line. A "pass" means Mail::DKIM computed the same relaxed body
# hash and the same header hash as the signer.
# usage: dkim_check.pl PUBLIC_KEY_B64 < messages separated by NUL bytes
#   -> one line per message: "<result> <detail>" of its first signature, or "none"
use strict;
use warnings;
use Mail::DKIM::Verifier;
use Net::DNS::RR;

my ($public) = @ARGV;
{
    no warnings 'redefine';
    *Mail::DKIM::DNS::query = sub {
        my @strings = unpack('(A250)*', "v=DKIM1; k=rsa; p=$public");
        return (Net::DNS::RR->new(name => $_[0], type => 'TXT', txtdata => \@strings));
    };
}
binmode STDIN;
local $/;
foreach my $message (split /\0/, <STDIN>, -1) {
    my $verifier = Mail::DKIM::Verifier->new();
    $verifier->PRINT($message);
    $verifier->CLOSE();
    my ($sig) = $verifier->signatures;
    print $sig ? sprintf("%s %s\n", $sig->result, $sig->result_detail || '') : "none\n";
}
