-- Demo source data for hypermove: a `devices` table and a `conditions`
-- hypertable with one-day chunks, a secondary index and a foreign key.
-- 60 devices x one reading every 5 minutes x 60 days = 1,036,800 rows in 60 chunks.
-- Loaded into the source database by scripts/demo (and by the tests).
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS timescaledb;

DROP TABLE IF EXISTS public.conditions;
DROP TABLE IF EXISTS public.devices;

CREATE TABLE public.devices (
    id          integer PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    location    text,
    installed   date NOT NULL DEFAULT current_date
);

CREATE TABLE public.conditions (
    time         timestamptz      NOT NULL,
    device_id    integer          NOT NULL REFERENCES public.devices (id),
    temperature  double precision,
    humidity     double precision CHECK (humidity BETWEEN 0 AND 100),
    status       text
);

SELECT create_hypertable('public.conditions', by_range('time', INTERVAL '1 day'));
CREATE INDEX conditions_device_id_time_idx ON public.conditions (device_id, time DESC);

INSERT INTO public.devices (id, name, location, installed)
SELECT d, 'sensor-' || d, (ARRAY['north', 'south', 'east', 'west'])[1 + d % 4],
       DATE '2024-06-01' + d
FROM generate_series(1, 60) AS d;

INSERT INTO public.conditions (time, device_id, temperature, humidity, status)
SELECT t, d,
       20 + 10 * sin(extract(epoch FROM t) / 86400.0 + d),
       50 + 40 * cos(extract(epoch FROM t) / 43200.0 + d),
       CASE WHEN (extract(epoch FROM t)::bigint / 300 + d) % 97 = 0 THEN 'alarm' ELSE 'ok' END
FROM generate_series(TIMESTAMPTZ '2025-01-01 00:00:00+00',
                     TIMESTAMPTZ '2025-03-01 23:55:00+00',
                     INTERVAL '5 minutes') AS t,
     generate_series(1, 60) AS d;

ANALYZE public.devices;
ANALYZE public.conditions;
