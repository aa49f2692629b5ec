-- A regular join bounded in time by a window aggregation's ends (Nexmark q7's shape): each bid
-- joined with the highest price of a 10-second window it falls in or ends within 10 seconds
-- before, the time bound written in WHERE. Flink keeps every bid; Sluice forgets a bid once
-- every window that could still join it has fired.
CREATE TABLE out_highest (
  auction BIGINT, bidder BIGINT, price DECIMAL(10, 2), ts TIMESTAMP(3), window_end TIMESTAMP(3)
) WITH ('connector' = 'filesystem', 'path' = '${OUT}', 'format' = 'csv');
INSERT INTO out_highest
SELECT B.auction, B.bidder, B.price, B.ts, W.window_end
FROM bids B
JOIN (
  SELECT MAX(price) AS maxprice, window_end
  FROM TABLE(TUMBLE(TABLE bids, DESCRIPTOR(ts), INTERVAL '10' SECOND))
  GROUP BY window_start, window_end
) W
ON B.price = W.maxprice
WHERE B.ts BETWEEN W.window_end - INTERVAL '10' SECOND AND W.window_end;
