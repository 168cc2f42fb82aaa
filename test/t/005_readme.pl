# The README's tutorial runs as written: every ```sql block of its
# "Tutorial" section, in order, in a new database, must succeed, and when a
# ```text block follows, print exactly that (timings aside).
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MicrobatchTest;

my $readme = slurp_file("$FindBin::RealBin/../../README.md");
my ($tutorial) = $readme =~ /^## Tutorial\n(.*?)^## /ms or die 'README.md has no Tutorial section';
my @steps;
while ($tutorial =~ /^```(sql|text)\n(.*?)^```\n/msg)
{
	if ($1 eq 'sql') { push @steps, { sql => $2 }; }
	elsif (@steps && !defined $steps[-1]{output}) { $steps[-1]{output} = $2; }
	else { die "an output block without its SQL block:\n$2"; }
}
ok(@steps >= 5, 'the tutorial has its SQL blocks');

my $node = PostgreSQL::Test::Cluster->new('readme');
$node->init;
$node->append_conf('postgresql.conf', "timezone = 'UTC'\nlc_messages = 'C'\n");
$node->start;
$node->safe_psql('postgres', 'CREATE DATABASE tutorial');

# timings vary: "in 12 ms", "in 1.2 s"
sub normalize
{
	my ($text) = @_;
	$text =~ s/ in [0-9.]+ m?s$/ in (time)/mg;
	$text =~ s/\s+$//;
	return $text;
}

my $n = 0;
foreach my $step (@steps)
{
	$n++;
	my $output;
	# one stream, as a terminal shows it: notices before their results
	my $ok = IPC::Run::run(
		[ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('tutorial') ],
		'<', \$step->{sql}, '>&', \$output);
	$output =~ s/^psql:<stdin>:\d+: //mg;
	ok($ok, "tutorial block $n runs without error") or diag("$step->{sql}\n$output");
	if (defined $step->{output})
	{
		is(normalize($output), normalize($step->{output}), "tutorial block $n prints what the README shows");
	}
	else
	{
		is(normalize($output), '', "tutorial block $n prints nothing, as the README shows");
	}
}

$node->stop;
done_testing();
