-- ARRAY columns written by Flink's CSV format: the elements joined by ';'.
CREATE TABLE out_arrays (auction BIGINT, pair ARRAY<BIGINT>, words ARRAY<STRING>, prices ARRAY<DECIMAL(10, 2)>)
WITH ('connector' = 'filesystem', 'path' = '${OUT}', 'format' = 'csv');
INSERT INTO out_arrays
SELECT auction, ARRAY[auction, bidder], ARRAY[channel, 'a b'], ARRAY[price, CAST(1.5 AS DECIMAL(10, 2))]
FROM bids
WHERE auction < 1002;
