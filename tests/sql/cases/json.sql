-- Flink's json format: the bids read from JSON lines (prices as numbers or text) and window
-- results written as JSON lines.
CREATE TABLE bids_json (
  auction BIGINT, bidder BIGINT, price DECIMAL(10, 2), channel STRING, url STRING, ts TIMESTAMP(3),
  WATERMARK FOR ts AS ts - INTERVAL '3' SECOND
) WITH ('connector' = 'filesystem', 'path' = '${DATA}/bids.json', 'format' = 'json');
CREATE TABLE out_json (auction BIGINT, window_start TIMESTAMP(3), bids BIGINT, top DECIMAL(10, 2), total DECIMAL(38, 2), busy BOOLEAN)
WITH ('connector' = 'filesystem', 'path' = '${OUT}', 'format' = 'json');
INSERT INTO out_json
SELECT auction, window_start, COUNT(*), MAX(price), SUM(price), COUNT(*) > 2
FROM TABLE(TUMBLE(TABLE bids_json, DESCRIPTOR(ts), INTERVAL '1' MINUTE))
GROUP BY auction, window_start, window_end;
