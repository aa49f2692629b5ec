-- Projections, filters and scalar functions.
CREATE TABLE out_rows (
  auction BIGINT, doubled DECIMAL(11, 2), channel STRING, size STRING, third DOUBLE, code INT, ts TIMESTAMP(3)
) WITH ('connector' = 'filesystem', 'path' = '${OUT}', 'format' = 'csv');
INSERT INTO out_rows
SELECT auction, price * 2, UPPER(channel),
       CASE WHEN price > 500 THEN 'big' WHEN price > 100 THEN 'medium' ELSE 'small' END,
       CAST(price AS DOUBLE) / 3, CHAR_LENGTH(url) + bidder % 7, ts
FROM bids
WHERE price > 10 AND channel <> 'web' OR price IS NULL;
