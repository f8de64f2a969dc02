-- Is an extension installed, or at least available, here? $1 = extension name.
SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = $1) AS installed,
       EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = $1) AS available
