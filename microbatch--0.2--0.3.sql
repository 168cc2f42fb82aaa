/* microbatch--0.2--0.3.sql: see CHANGELOG.md, "0.3" */

\echo Use "ALTER EXTENSION microbatch UPDATE TO '0.3'" to load this file. \quit
