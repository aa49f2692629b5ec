-- The filesystem connector's metadata columns: the file each row was read from.
CREATE TABLE bids_with_file (
  auction BIGINT, bidder BIGINT, price DECIMAL(10, 2), channel STRING, url STRING, ts TIMESTAMP(3),
  `path` STRING NOT NULL METADATA FROM 'file.path' VIRTUAL,
  file_name STRING METADATA FROM 'file.name',
  `file.size` BIGINT METADATA VIRTUAL,
  modified TIMESTAMP_LTZ(3) METADATA FROM 'file.modification-time',
  name_length AS CHAR_LENGTH(file_name),
  WATERMARK FOR ts AS ts - INTERVAL '3' SECOND
) WITH ('connector' = 'filesystem', 'path' = '${DATA}/bids.csv', 'format' = 'csv', 'csv.null-literal' = 'null');
CREATE TABLE out_rows (auction BIGINT, price DECIMAL(10, 2), file_name STRING, size BIGINT, name_length INT, in_data BOOLEAN, after_2020 BOOLEAN)
WITH ('connector' = 'filesystem', 'path' = '${OUT}', 'format' = 'csv');
INSERT INTO out_rows
SELECT auction, price, UPPER(file_name), `file.size`, name_length, `path` LIKE '%/data/bids.csv',
  CAST(modified AS TIMESTAMP(3)) > TIMESTAMP '2020-01-01 00:00:00'
FROM bids_with_file
WHERE bidder BETWEEN 2100 AND 2300;
