-- From template0, so nothing added to template1 (an extension, a table) can collide
-- with what the dump creates; in the source database's encoding. {database} and
-- {encoding} are quoted by pg::quote_ident and pg::quote_literal.
CREATE DATABASE {database} TEMPLATE template0 ENCODING {encoding}
