-- Databases and roles of the split layout (docs/operations.md, "Split services"): run as a superuser,
-- connected to any database. Safe to run again: what exists is brought back to this state.
--
-- Each context's database is owned by a role of the same name, which may connect to nothing
-- else but the shared identity database. A query for another context's table therefore fails
-- on the spot: the role cannot even connect there.
--
-- In the identity database a role may use the schema, and nothing more from this script: its
-- tables do not exist yet. Their owner grants each role what it needs of them, once it has
-- migrated them (manage.py migrate_identity --grant-to, scripts/migrate_services.sh): reading
-- users, permissions and tokens, and writing only what signing in and the admin write.
--
-- psql variables (psql -v name=value), with the defaults of a local machine:
--   products, inventory, orders     the role and database of each context
--   products_password, ...          their passwords (default: the role's name)
--   identity_db, identity_owner     the shared database and the role that migrates it
--   action                          create (default), or drop: the three databases and roles go

\set ON_ERROR_STOP on
\if :{?products} \else \set products ecommerce_products \endif
\if :{?inventory} \else \set inventory ecommerce_inventory \endif
\if :{?orders} \else \set orders ecommerce_orders \endif
\if :{?products_password} \else \set products_password :products \endif
\if :{?inventory_password} \else \set inventory_password :inventory \endif
\if :{?orders_password} \else \set orders_password :orders \endif
\if :{?identity_db} \else \set identity_db ecommerce \endif
\if :{?identity_owner} \else \set identity_owner ecommerce \endif
\if :{?action} \else \set action create \endif

SELECT :'action' = 'drop' AS dropping \gset
\if :dropping
    -- A role cannot go while it holds privileges in another database: first the identity's.
    \connect :"identity_db"
    SELECT format('DROP OWNED BY %I', rolname) FROM pg_roles
     WHERE rolname IN (:'products', :'inventory', :'orders') \gexec
    SELECT format('DROP DATABASE IF EXISTS %I WITH (FORCE)', name)
      FROM (VALUES (:'products'), (:'inventory'), (:'orders')) AS context(name) \gexec
    SELECT format('DROP ROLE IF EXISTS %I', name)
      FROM (VALUES (:'products'), (:'inventory'), (:'orders')) AS context(name) \gexec
    \quit
\endif

-- Roles: they log in, and own their database; nothing more.
SELECT format('CREATE ROLE %I', name)
  FROM (VALUES (:'products'), (:'inventory'), (:'orders')) AS context(name)
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = name) \gexec
ALTER ROLE :"products" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'products_password';
ALTER ROLE :"inventory" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'inventory_password';
ALTER ROLE :"orders" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'orders_password';

-- Databases, each closed to every role but its owner (PUBLIC may connect by default).
SELECT format('CREATE DATABASE %I OWNER %I', name, name)
  FROM (VALUES (:'products'), (:'inventory'), (:'orders')) AS context(name)
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = name) \gexec
SELECT format('ALTER DATABASE %I OWNER TO %I', name, name),
       format('REVOKE ALL ON DATABASE %I FROM PUBLIC', name)
  FROM (VALUES (:'products'), (:'inventory'), (:'orders')) AS context(name) \gexec

-- The shared identity database: connect and use its schema. Older versions of this script gave
-- every role all rights on every table there, present and future: those go.
GRANT CONNECT ON DATABASE :"identity_db" TO :"products", :"inventory", :"orders";
\connect :"identity_db"
GRANT USAGE ON SCHEMA public TO :"products", :"inventory", :"orders";
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM :"products", :"inventory", :"orders";
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM :"products", :"inventory", :"orders";
ALTER DEFAULT PRIVILEGES FOR ROLE :"identity_owner" IN SCHEMA public
    REVOKE ALL ON TABLES FROM :"products", :"inventory", :"orders";
ALTER DEFAULT PRIVILEGES FOR ROLE :"identity_owner" IN SCHEMA public
    REVOKE ALL ON SEQUENCES FROM :"products", :"inventory", :"orders";
