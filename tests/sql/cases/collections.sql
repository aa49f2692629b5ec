-- ARRAY and MAP values: constructors, element access (1-based; NULL past the end or for a
-- missing key), CARDINALITY, CAST to STRING, written as JSON arrays and objects.
CREATE TABLE out_collections (
  auction BIGINT, pair ARRAY<BIGINT>, second_part STRING, parts INT, by_channel MAP<STRING, BIGINT>,
  bidder_again BIGINT, missing BIGINT, past_end BIGINT, shown STRING, nested ARRAY<ARRAY<INT>>
) WITH ('connector' = 'filesystem', 'path' = '${OUT}', 'format' = 'json');
INSERT INTO out_collections
SELECT auction, ARRAY[auction, bidder], ARRAY[channel, url][2],
  CARDINALITY(ARRAY[price, price, CAST(NULL AS DECIMAL(10, 2))]),
  MAP[COALESCE(channel, '?'), bidder, 'all', auction],
  MAP[COALESCE(channel, '?'), bidder][COALESCE(channel, '?')],
  MAP['a', auction]['b'], ARRAY[auction][2],
  CAST(ARRAY[price, 1] AS STRING), ARRAY[ARRAY[1], ARRAY[2, CAST(NULL AS INT)]]
FROM bids
WHERE auction < 1004;
