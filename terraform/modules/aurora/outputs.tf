output "cluster_cluster_identifier" {
  value = aws_rds_cluster.cluster.cluster_identifier
}

output "cluster_endpoint" {
  value = aws_rds_cluster.cluster.endpoint
}

output "cluster_master_user_secret_arn" {
  value = aws_rds_cluster.cluster.master_user_secret[0].secret_arn
}

output "cluster_reader_endpoint" {
  value = aws_rds_cluster.cluster.reader_endpoint
}

output "writer_id" {
  value = aws_rds_cluster_instance.writer.id
}
