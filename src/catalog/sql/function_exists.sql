-- Does a function exist? $1 = its name as SQL would resolve it (e.g. `public.now_int`).
SELECT to_regproc($1) IS NOT NULL AS present
