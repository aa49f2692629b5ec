-- Scalar functions: strings, dates, LIKE, IN, COALESCE, MOD, EXTRACT.
CREATE TABLE out_rows (
  auction BIGINT, path STRING, tail STRING, part STRING, day_hour STRING, hour_of BIGINT, minute_of BIGINT,
  partner BOOLEAN, picked BOOLEAN, price_or_zero DECIMAL(10, 2), bucket BIGINT, parsed TIMESTAMP(3), trimmed STRING
) WITH ('connector' = 'filesystem', 'path' = '${OUT}', 'format' = 'csv');
INSERT INTO out_rows
SELECT auction,
       SUBSTRING(url FROM 9 FOR 14),
       SUBSTR(url, 25),
       SPLIT_INDEX(url, '/', 4),
       DATE_FORMAT(ts, 'yyyy-MM-dd HH:mm:ss.SSS'),
       HOUR(ts),
       EXTRACT(MINUTE FROM ts),
       channel LIKE 'partner%',
       channel IN ('app', 'Mobile') AND auction NOT IN (1001, 1002),
       COALESCE(price, 0.00),
       MOD(bidder, 7),
       TO_TIMESTAMP(DATE_FORMAT(ts, 'yyyy-MM-dd HH:mm:ss')),
       TRIM(CONCAT('  ', LOWER(channel), ' '))
FROM bids
WHERE bidder NOT BETWEEN 2100 AND 2400 OR channel LIKE '%"%';
