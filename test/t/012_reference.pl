# The reference is the interface.  Every SQL-callable function of the
# extension (pg_proc, through pg_depend on the extension), but for the
# internal ones listed below with a reason, is declared in doc/reference.md
# with its exact signature: argument names, types and defaults, and return
# type (a procedure with CALL and no RETURNS).  Signatures are read from a
# "### `signature`" heading or from a ```sql block that declares nothing but
# signatures; types and defaults are compared in one spelling (timestamptz
# for timestamp with time zone, int for integer, bool for boolean; no casts
# on defaults).  Every signature there is one the extension has.  Every
# microbatch.* setting (pg_settings once the library is loaded) has its
# row in the reference's Settings table with its default (and says
# "superuser" when only a superuser may set it).  The README's function
# table names every mb_* function, with argument names (and defaults,
# where it gives them) one of its signatures has, and the README names
# every setting.
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MicrobatchTest;
use MicrobatchDocs;

my $root = "$FindBin::RealBin/../..";

# functions that are not the interface: nobody calls them by hand
my %internal = (
	'microbatch.capture_handler(internal)' =>
	  'handler of the access method microbatch_capture (CREATE ACCESS METHOD)',
	'microbatch.track_changes()' => 'trigger function of the tracking triggers',
	'microbatch.needs_mark(regclass,anyelement)' => "the tracking triggers' WHEN condition",
	'microbatch.on_sql_drop()' => 'event trigger: dropped targets disable their pipelines',
	'microbatch.on_drop_extension()' => 'event trigger: DROP EXTENSION removes jobs and triggers',
	'microbatch.window_guard(timestamp with time zone,timestamp with time zone,timestamp with time zone)'
	  => "the out-of-window guard in every window's INSERT",
	'microbatch.window_check(timestamp with time zone,timestamp with time zone,timestamp with time zone)'
	  => 'the same guard on a Citus cluster',
	'microbatch.window_deleted(timestamp with time zone)' =>
	  "counts a coalesced chunk's deleted rows per window",
	'microbatch.schedule_of(text)' => 'column schedule of microbatch.status',
	'microbatch.missing_windows(text)' => 'column missing_windows of microbatch.status',
	'microbatch.running_pipelines()' => 'column running of microbatch.status',
	'microbatch.waiting_on(text)' => 'column waiting_on of microbatch.status',
	'microbatch.cron_jobs()' => 'the pg_cron columns of microbatch.status',
	'microbatch.processed_through(text)' => 'column processed_through (and lag) of microbatch.status',
	'microbatch.on_partition_ddl_start()' => 'event trigger: partition DDL on tracked sources, before',
	'microbatch.on_partition_ddl_end()' => 'event trigger: partition DDL on tracked sources, after',
	'microbatch.track_partition_truncate()' => 'trigger function of the TRUNCATE triggers on partitions',
	'microbatch.recompute_reads()' => 'called once by the update to 0.3 to find the graph of existing pipelines');

my $node = new_node('reference');

# the catalog's functions: name as the docs write it (the extension's own
# schema unqualified), kind, arguments and result as PostgreSQL prints them
my @functions;
foreach my $row (split /\n/, $node->safe_psql('postgres', q{
SELECT p.oid::regprocedure,
       CASE WHEN n.nspname = e.extnamespace::regnamespace::name THEN '' ELSE n.nspname || '.' END || p.proname,
       p.prokind, pg_get_function_arguments(p.oid), coalesce(pg_get_function_result(p.oid), '')
  FROM pg_extension e
  JOIN pg_depend d ON d.refclassid = 'pg_extension'::regclass AND d.refobjid = e.oid
   AND d.classid = 'pg_proc'::regclass AND d.deptype = 'e'
  JOIN pg_proc p ON p.oid = d.objid
  JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE e.extname = 'microbatch'
 ORDER BY 2, 1::text}))
{
	my ($regprocedure, $name, $kind, $args, $result) = split /\|/, $row;
	push @functions, { regprocedure => $regprocedure, name => $name, kind => $kind,
		args => $args, result => $result };
}
ok(@functions >= 20, 'the extension has its functions (' . scalar(@functions) . ')');

my %present = map { $_->{regprocedure} => 1 } @functions;
foreach my $regprocedure (sort keys %internal)
{
	ok($present{$regprocedure}, "internal $regprocedure still exists (else take it off the list)");
}

# the reference's signatures: headings and signature blocks
my (@documented, %by_name);
my @lines = split /\n/, slurp_file("$root/doc/reference.md");
for my $i (0 .. $#lines)
{
	next unless $lines[$i] =~ /^#+\s+`([^`]*\()/;
	my ($text) = $lines[$i] =~ /^#+\s+`([^`]*)`/;
	my $sig = parse_signature($text);
	ok($sig, "doc/reference.md:" . ($i + 1) . " heading is a signature") or diag($text);
	push @documented, { sig => $sig, line => $i + 1 } if $sig;
}
foreach my $item (read_doc("$root/doc/reference.md"))
{
	next unless $item->{kind} eq 'block' && $item->{lang} eq 'sql';
	my $sigs = signatures_of_block($item->{text}) or next;
	push @documented, map { { sig => $_, line => $item->{line} } } @$sigs;
}
push @{ $by_name{ $_->{sig}{name} } }, $_ foreach @documented;

# catalog_signature makes the catalog's function comparable with the docs'
sub catalog_signature
{
	my ($f) = @_;
	my $sig = parse_signature("$f->{name}($f->{args})"
		  . ($f->{kind} eq 'p' ? '' : " RETURNS $f->{result}"));
	die "cannot read the catalog's $f->{regprocedure}: $f->{args} / $f->{result}" unless $sig;
	$sig->{procedure} = $f->{kind} eq 'p';
	return signature_text($sig);
}

my %catalog_texts;
foreach my $f (@functions)
{
	next if $internal{ $f->{regprocedure} };
	my $want = catalog_signature($f);
	$catalog_texts{$want} = 1;
	my @shown = map { signature_text($_->{sig}) } @{ $by_name{ $f->{name} } // [] };
	ok(grep({ $_ eq $want } @shown), "doc/reference.md declares $want")
	  or diag(@shown
		? "it shows:\n" . join("\n", map { "  $_" } @shown)
		: "it has no signature of $f->{name}: add a \"### `$want`\" heading or a ```sql block");
}
foreach my $doc (@documented)
{
	my $text = signature_text($doc->{sig});
	ok($catalog_texts{$text}, "doc/reference.md:$doc->{line}: the extension has $text");
}

# settings (they exist once the library is loaded): the reference's table,
# and the README
my @settings = map { [ split /\|/ ] } split /\n/, $node->safe_psql('postgres', q{
LOAD 'microbatch';
SELECT name, boot_val, coalesce(unit, ''), context FROM pg_settings
 WHERE name LIKE 'microbatch.%' ORDER BY 1});
ok(@settings >= 4, 'the library has its settings (' . scalar(@settings) . ')');
my ($settings_section) = slurp_file("$root/doc/reference.md") =~ /^## Settings\n(.*?)(?=^## |\z)/ms
  or die 'doc/reference.md has no Settings section';
my $readme = slurp_file("$root/README.md");
my %rows;
$rows{$1} = [ $2, $3 ] while $settings_section =~ /^\|\s*`(microbatch\.\w+)`\s*\|\s*`?([^|`]*?)`?\s*\|(.*)\|\s*$/mg;
foreach my $setting (@settings)
{
	my ($name, $default, $unit, $context) = @$setting;
	my $row = $rows{$name};
	ok($row, "doc/reference.md's Settings table has a row for $name") or next;
	ok($row->[0] eq $default || $row->[0] eq "$default$unit" || $row->[0] eq "$default $unit",
		"doc/reference.md gives the default of $name ($default$unit)") or diag("it says \"$row->[0]\"");
	ok($row->[1] =~ /superuser/, "doc/reference.md says only a superuser may set $name")
	  if $context eq 'superuser';
	ok($readme =~ /\Q$name\E\b/, "README.md names $name");
}
my %known = map { $_->[0] => 1 } @settings;
ok($known{$_}, "the library has the setting $_ that doc/reference.md lists") foreach sort keys %rows;

# the README's function table: names, argument names, defaults
my ($table) = $readme =~ /^## Reference\n(.*?)(?=^## )/ms or die 'README.md has no Reference section';
my %in_readme;
foreach my $line (grep { /^\|/ } split /\n/, $table)
{
	my ($first) = split /\|/, substr($line, 1);
	while ($first =~ /`(?:CALL\s+)?([a-z_][\w.]*)\(([^`]*)\)`/g)
	{
		my ($name, $args) = ($1, $2);
		my @overloads = grep { $_->{name} eq $name } @functions;
		next unless @overloads;
		$in_readme{$name} = 1;
		my @given = map { [ /^(\w+)(?:\s*=>\s*(.*))?$/ ] } split_top($args);
		my $matches = grep {
			my $declared = parse_arguments($_->{args}, 0);
			@$declared == @given && !grep {
				my ($arg, $given) = ($declared->[$_], $given[$_]);
				!defined $given->[0] || $given->[0] ne $arg->{name}
				  || (defined $given->[1]
					&& (!defined $arg->{default} || normalize_default($given->[1]) ne $arg->{default}))
			} 0 .. $#$declared
		} @overloads;
		ok($matches, "README.md's $name($args) has the arguments of $name")
		  or diag(join("\n", map { "the extension has $name($_->{args})" } @overloads));
	}
}
my %mb = map { $_->{name} => 1 } grep { $_->{name} =~ /^mb_/ } @functions;
ok($in_readme{$_}, "README.md's function table has $_") foreach sort keys %mb;

$node->stop;
done_testing();
