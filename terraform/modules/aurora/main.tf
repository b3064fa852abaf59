resource "aws_db_subnet_group" "subnet_group" {
  name        = "morket-${var.stack}-aurora"
  description = "Morket Aurora: private subnets"
  subnet_ids  = [var.network_private_us_east_1a_id, var.network_private_us_east_1b_id]
  tags = {
    Name         = "morket-${var.stack}-aurora"
    "morket:urn" = "${var.stack}::aurora::aws:rds/DbSubnetGroup::subnet-group"
  }
}

resource "aws_rds_cluster_parameter_group" "cluster_parameter_group" {
  name        = "morket-${var.stack}-aurora-pg15"
  family      = "aurora-postgresql15"
  description = "Morket Aurora: pg_stat_statements, slow query log"
  tags = {
    Name         = "morket-${var.stack}-aurora"
    "morket:urn" = "${var.stack}::aurora::aws:rds/DbClusterParameterGroup::cluster-parameter-group"
  }

  parameter {
    name         = "shared_preload_libraries"
    value        = "pg_stat_statements"
    apply_method = "pending-reboot"
  }

  parameter {
    name         = "log_min_duration_statement"
    value        = "1000"
    apply_method = "immediate"
  }

  parameter {
    name         = "log_statement"
    value        = "ddl"
    apply_method = "immediate"
  }
}

resource "aws_rds_cluster" "cluster" {
  # checkov:skip=CKV_AWS_327:R5.2: storage encrypted with the default AWS key
  # checkov:skip=CKV2_AWS_8:backed up by RDS automated backups (7 days, R5.3); the AWS Backup plan is for the ClickHouse volume (R6.5)
  # checkov:skip=CKV_AWS_162:clients use the RDS-managed master secret (R11.2); Temporal's postgres plugin has no IAM token auth
  cluster_identifier              = "morket-${var.stack}"
  engine                          = "aurora-postgresql"
  engine_version                  = "15.14"
  allow_major_version_upgrade     = false
  database_name                   = "morket"
  master_username                 = "morket_admin"
  manage_master_user_password     = true
  db_subnet_group_name            = aws_db_subnet_group.subnet_group.name
  vpc_security_group_ids          = [var.network_sg_aurora_id]
  db_cluster_parameter_group_name = aws_rds_cluster_parameter_group.cluster_parameter_group.name
  storage_encrypted               = true
  deletion_protection             = var.cluster_deletion_protection
  copy_tags_to_snapshot           = true
  enabled_cloudwatch_logs_exports = ["postgresql"]
  backup_retention_period         = 7
  preferred_backup_window         = "03:00-04:00"
  skip_final_snapshot             = var.cluster_skip_final_snapshot
  final_snapshot_identifier       = var.cluster_final_snapshot_identifier
  apply_immediately               = var.cluster_apply_immediately
  tags = {
    Name         = "morket-${var.stack}-aurora"
    "morket:urn" = "${var.stack}::aurora::aws:rds/DbCluster::cluster"
  }
  depends_on = [var.account_rds_role_id]
}

resource "aws_iam_role" "monitoring_role" {
  name                 = "morket-${var.stack}-rds-monitoring"
  assume_role_policy   = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"Service\":\"monitoring.rds.amazonaws.com\"},\"Action\":\"sts:AssumeRole\"}]}"
  description          = "RDS Enhanced Monitoring of the Aurora instances"
  max_session_duration = 3600
  tags = {
    Name         = "morket-${var.stack}-aurora"
    "morket:urn" = "${var.stack}::aurora::aws:iam/Role::monitoring-role"
  }
}

resource "aws_iam_role_policy_attachment" "monitoring_role" {
  for_each   = toset(["arn:${var.account_caller_partition}:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"])
  role       = aws_iam_role.monitoring_role.id
  policy_arn = each.value
}

resource "aws_rds_cluster_instance" "writer" {
  # checkov:skip=CKV_AWS_354:Performance Insights data encrypted with the default AWS key (aws/rds), as the storage (R5.2)
  auto_minor_version_upgrade            = true
  identifier                            = "morket-${var.stack}-writer"
  cluster_identifier                    = aws_rds_cluster.cluster.cluster_identifier
  instance_class                        = var.writer_instance_class
  engine                                = "aurora-postgresql"
  availability_zone                     = "us-east-1a"
  promotion_tier                        = 0
  publicly_accessible                   = false
  apply_immediately                     = var.writer_apply_immediately
  performance_insights_enabled          = true
  performance_insights_retention_period = 7
  monitoring_interval                   = 60
  monitoring_role_arn                   = aws_iam_role.monitoring_role.arn
  tags = {
    Name         = "morket-${var.stack}-aurora-writer"
    "morket:urn" = "${var.stack}::aurora::aws:rds/DbClusterInstance::writer"
  }
}

resource "aws_rds_cluster_instance" "reader_1" {
  # checkov:skip=CKV_AWS_354:Performance Insights data encrypted with the default AWS key (aws/rds), as the storage (R5.2)
  auto_minor_version_upgrade            = true
  identifier                            = "morket-${var.stack}-reader-1"
  cluster_identifier                    = aws_rds_cluster.cluster.cluster_identifier
  instance_class                        = var.reader_1_instance_class
  engine                                = "aurora-postgresql"
  availability_zone                     = "us-east-1b"
  promotion_tier                        = 1
  publicly_accessible                   = false
  apply_immediately                     = var.reader_1_apply_immediately
  performance_insights_enabled          = true
  performance_insights_retention_period = 7
  monitoring_interval                   = 60
  monitoring_role_arn                   = aws_iam_role.monitoring_role.arn
  tags = {
    Name         = "morket-${var.stack}-aurora-reader-1"
    "morket:urn" = "${var.stack}::aurora::aws:rds/DbClusterInstance::reader-1"
  }
  depends_on = [aws_rds_cluster_instance.writer]
}
