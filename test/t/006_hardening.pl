# Hardening where workers and logins are involved: a role without
# privileges that sets its own search_path for its logins, so that the
# background workers of its runs start with it, gets nothing run as anyone
# else; a superuser who runs that role's pipeline in workers keeps its own
# session (DESIGN §4.8).
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MicrobatchTest;

my $node = new_node('hardening');
create_events($node, 10_000, 3);

# mallory logs in as herself; her "=" for text records whom it ran as
$node->safe_psql('postgres', q{
CREATE ROLE mallory LOGIN;
CREATE SCHEMA mallory AUTHORIZATION mallory;
GRANT SELECT ON events TO mallory;
});
$node->safe_psql('postgres', q{
CREATE TABLE mallory.ran_as (who name, superuser bool);
GRANT INSERT ON mallory.ran_as TO PUBLIC;
CREATE FUNCTION mallory.trap(text, text) RETURNS bool LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO mallory.ran_as
		SELECT current_user, r.rolsuper FROM pg_catalog.pg_roles r
		 WHERE r.rolname OPERATOR(pg_catalog.=) current_user;
	RETURN $1 OPERATOR(pg_catalog.=) $2;
END $$;
CREATE OPERATOR mallory.= (LEFTARG = text, RIGHTARG = text, FUNCTION = mallory.trap);
CREATE TABLE mallory.daily (day timestamptz, n bigint);
ALTER ROLE mallory IN DATABASE postgres SET search_path = mallory, pg_catalog, public;
}, extra_params => [ '-U', 'mallory' ]);

# the role setting reaches her sessions and her workers
is($node->safe_psql('postgres', 'SHOW search_path', extra_params => [ '-U', 'mallory' ]),
	'mallory, pg_catalog, public', 'mallory logs in with her own operator first in search_path');

my $register = q{
SELECT mb_register('mallory_daily', 'mallory.daily', 'day',
  $$SELECT date_trunc('day', created_at) AS day, count(*) AS n
      FROM public.events WHERE created_at >= $1 AND created_at < $2 GROUP BY 1$$,
  'day', '2024-01-01', end_at => '2024-01-04', max_parallel => 2);
};
$node->safe_psql('postgres', $register, extra_params => [ '-U', 'mallory' ]);
my $run = $node->safe_psql('postgres',
	"SET microbatch.progress = off; SELECT windows, succeeded FROM mb_run('mallory_daily')",
	extra_params => [ '-U', 'mallory' ]);
is($run, '3|3', 'her run in background workers succeeds');
$node->safe_psql('postgres', "SELECT * FROM microbatch.status; SELECT * FROM mb_plan('mallory_daily')",
	extra_params => [ '-U', 'mallory' ]);
is($node->safe_psql('postgres', 'SELECT count(*) FROM mallory.ran_as'), '0',
	'her operator never ran in the workers\' or the catalog\'s statements');

# a superuser runs her pipeline in workers: the superuser's session is untouched,
# and her query still runs as her
$node->safe_psql('postgres', q{
CREATE TABLE mallory.whoami (day timestamptz, who name);
GRANT INSERT, DELETE ON mallory.whoami TO mallory;
}, extra_params => [ '-U', 'mallory' ]);
$node->safe_psql('postgres', q{
SELECT mb_register('mallory_whoami', 'mallory.whoami', 'day',
  $$SELECT date_trunc('day', created_at) AS day, current_user AS who
      FROM public.events WHERE created_at >= $1 AND created_at < $2
       AND set_config('search_path', 'mallory, pg_catalog', false) IS NOT NULL
     GROUP BY 1$$,
  'day', '2024-01-01', end_at => '2024-01-03', max_parallel => 2);
}, extra_params => [ '-U', 'mallory' ]);
is($node->safe_psql('postgres', q{
SET microbatch.progress = off;
SELECT succeeded FROM mb_run('mallory_whoami');
SHOW search_path;
SELECT DISTINCT who FROM mallory.whoami;
}), "2\n\"\$user\", public\nmallory", 'a superuser running her pipeline keeps its search_path; the query runs as mallory');
is($node->safe_psql('postgres', 'SELECT count(*) FROM mallory.ran_as WHERE superuser'), '0',
	'nothing of hers ever ran as a superuser');

$node->stop;
done_testing();
