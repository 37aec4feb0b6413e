-- Loads list landed pulls from a point in time instead of a whole UTC day, so the work of a
-- load stays small at one crawl a minute (first_open_day stays, as the day of first_open_at).
ALTER TABLE meta.landing_watermarks ADD COLUMN first_open_at TIMESTAMPTZ;
