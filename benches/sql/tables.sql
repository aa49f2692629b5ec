-- The table every query of this directory reads (${DATA}: the bids gen_bids.py writes).
CREATE TABLE bids (
  auction BIGINT, bidder BIGINT, price DECIMAL(10, 2), channel STRING, url STRING, ts TIMESTAMP(3),
  WATERMARK FOR ts AS ts - INTERVAL '3' SECOND
) WITH ('connector' = 'filesystem', 'path' = '${DATA}', 'format' = 'csv');
