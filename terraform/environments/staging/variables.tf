variable "stack" {
  description = "The stack (environment) name, in names and tags."
  type        = string
}

variable "alb_access_logs_force_destroy" {
  description = "`force_destroy` of aws_s3_bucket.access_logs."
  type        = bool
}

variable "alb_alb_enable_deletion_protection" {
  description = "`enable_deletion_protection` of aws_lb.alb."
  type        = bool
}

variable "alb_api_record_name" {
  description = "`name` of aws_route53_record.api_record."
  type        = string
}

variable "alb_certificate_domain_name" {
  description = "`domain_name` of aws_acm_certificate.certificate."
  type        = string
}

variable "alb_certificate_validation_api_app_morket_io_enabled" {
  description = "Whether aws_route53_record.certificate_validation_api_app_morket_io exists in this environment."
  type        = bool
}

variable "alb_certificate_validation_api_staging_morket_io_enabled" {
  description = "Whether aws_route53_record.certificate_validation_api_staging_morket_io exists in this environment."
  type        = bool
}

variable "alb_certificate_validation_validation_record_fqdns_variant" {
  description = "Which value of `validation_record_fqdns` aws_acm_certificate_validation.certificate_validation takes (its references differ)."
  type        = number
}

variable "alb_https_default_action_redirect_host" {
  description = "`host` of aws_lb_listener.https."
  type        = string
}

variable "alb_waf_description" {
  description = "`description` of aws_wafv2_web_acl.waf."
  type        = string
}

variable "alb_waf_logs_retention_in_days" {
  description = "`retention_in_days` of aws_cloudwatch_log_group.waf_logs."
  type        = number
}

variable "aurora_cluster_apply_immediately" {
  description = "`apply_immediately` of aws_rds_cluster.cluster."
  type        = bool
}

variable "aurora_cluster_deletion_protection" {
  description = "`deletion_protection` of aws_rds_cluster.cluster."
  type        = bool
}

variable "aurora_cluster_final_snapshot_identifier" {
  description = "`final_snapshot_identifier` of aws_rds_cluster.cluster."
  type        = string
}

variable "aurora_cluster_skip_final_snapshot" {
  description = "`skip_final_snapshot` of aws_rds_cluster.cluster."
  type        = bool
}

variable "aurora_reader_1_apply_immediately" {
  description = "`apply_immediately` of aws_rds_cluster_instance.reader_1."
  type        = bool
}

variable "aurora_reader_1_instance_class" {
  description = "`instance_class` of aws_rds_cluster_instance.reader_1."
  type        = string
}

variable "aurora_writer_apply_immediately" {
  description = "`apply_immediately` of aws_rds_cluster_instance.writer."
  type        = bool
}

variable "aurora_writer_instance_class" {
  description = "`instance_class` of aws_rds_cluster_instance.writer."
  type        = string
}

variable "backup_vault_force_destroy" {
  description = "`force_destroy` of aws_backup_vault.vault."
  type        = bool
}

variable "clickhouse_data_size" {
  description = "`size` of aws_ebs_volume.data."
  type        = number
}

variable "clickhouse_launch_template_instance_type" {
  description = "`instance_type` of aws_launch_template.launch_template."
  type        = string
}

variable "clickhouse_launch_template_user_data" {
  description = "`user_data` of aws_launch_template.launch_template."
  type        = string
}

variable "edge_alias_a_name" {
  description = "`name` of aws_route53_record.alias_a."
  type        = string
}

variable "edge_alias_aaaa_name" {
  description = "`name` of aws_route53_record.alias_aaaa."
  type        = string
}

variable "edge_certificate_domain_name" {
  description = "`domain_name` of aws_acm_certificate.certificate."
  type        = string
}

variable "edge_certificate_validation_app_morket_io_enabled" {
  description = "Whether aws_route53_record.certificate_validation_app_morket_io exists in this environment."
  type        = bool
}

variable "edge_certificate_validation_staging_morket_io_enabled" {
  description = "Whether aws_route53_record.certificate_validation_staging_morket_io exists in this environment."
  type        = bool
}

variable "edge_certificate_validation_validation_record_fqdns_variant" {
  description = "Which value of `validation_record_fqdns` aws_acm_certificate_validation.certificate_validation takes (its references differ)."
  type        = number
}

variable "edge_distribution_aliases" {
  description = "`aliases` of aws_cloudfront_distribution.distribution."
  type        = list(string)
}

variable "edge_exports_force_destroy" {
  description = "`force_destroy` of aws_s3_bucket.exports."
  type        = bool
}

variable "edge_frontend_force_destroy" {
  description = "`force_destroy` of aws_s3_bucket.frontend."
  type        = bool
}

variable "network_flow_log_group_retention_in_days" {
  description = "`retention_in_days` of aws_cloudwatch_log_group.flow_log_group."
  type        = number
}

variable "network_nat_eip_us_east_1b_enabled" {
  description = "Whether aws_eip.nat_eip_us_east_1b exists in this environment."
  type        = bool
}

variable "network_nat_us_east_1b_enabled" {
  description = "Whether aws_nat_gateway.nat_us_east_1b exists in this environment."
  type        = bool
}

variable "network_private_default_us_east_1b_nat_gateway_id_variant" {
  description = "Which value of `nat_gateway_id` aws_route.private_default_us_east_1b takes (its references differ)."
  type        = number
}

variable "observability_dashboard_dashboard_body_variant" {
  description = "Which value of `dashboard_body` aws_cloudwatch_dashboard.dashboard takes (its references differ)."
  type        = number
}

variable "observability_redis_002_cpu_enabled" {
  description = "Whether aws_cloudwatch_metric_alarm.redis_002_cpu exists in this environment."
  type        = bool
}

variable "opensearch_application_logs_retention_in_days" {
  description = "`retention_in_days` of aws_cloudwatch_log_group.application_logs."
  type        = number
}

variable "opensearch_audit_logs_retention_in_days" {
  description = "`retention_in_days` of aws_cloudwatch_log_group.audit_logs."
  type        = number
}

variable "opensearch_domain_cluster_config_instance_count" {
  description = "`instance_count` of aws_opensearch_domain.domain."
  type        = number
}

variable "opensearch_domain_cluster_config_instance_type" {
  description = "`instance_type` of aws_opensearch_domain.domain."
  type        = string
}

variable "opensearch_domain_cluster_config_zone_awareness_config_enabled" {
  description = "Whether aws_opensearch_domain.domain has a `zone_awareness_config` block."
  type        = bool
}

variable "opensearch_domain_cluster_config_zone_awareness_enabled" {
  description = "`zone_awareness_enabled` of aws_opensearch_domain.domain."
  type        = bool
}

variable "opensearch_domain_ebs_options_volume_size" {
  description = "`volume_size` of aws_opensearch_domain.domain."
  type        = number
}

variable "opensearch_domain_vpc_options_subnet_ids_variant" {
  description = "Which value of `subnet_ids` aws_opensearch_domain.domain takes (its references differ)."
  type        = number
}

variable "rabbitmq_broker_deployment_mode" {
  description = "`deployment_mode` of aws_mq_broker.broker."
  type        = string
}

variable "rabbitmq_broker_subnet_ids_variant" {
  description = "Which value of `subnet_ids` aws_mq_broker.broker takes (its references differ)."
  type        = number
}

variable "redis_replication_group_automatic_failover_enabled" {
  description = "`automatic_failover_enabled` of aws_elasticache_replication_group.replication_group."
  type        = bool
}

variable "redis_replication_group_multi_az_enabled" {
  description = "`multi_az_enabled` of aws_elasticache_replication_group.replication_group."
  type        = bool
}

variable "redis_replication_group_node_type" {
  description = "`node_type` of aws_elasticache_replication_group.replication_group."
  type        = string
}

variable "redis_replication_group_num_cache_clusters" {
  description = "`num_cache_clusters` of aws_elasticache_replication_group.replication_group."
  type        = number
}

variable "registry_backend_force_delete" {
  description = "`force_delete` of aws_ecr_repository.backend."
  type        = bool
}

variable "registry_frontend_force_delete" {
  description = "`force_delete` of aws_ecr_repository.frontend."
  type        = bool
}

variable "registry_scraper_force_delete" {
  description = "`force_delete` of aws_ecr_repository.scraper."
  type        = bool
}

variable "secrets_clickhouse_recovery_window_in_days" {
  description = "`recovery_window_in_days` of aws_secretsmanager_secret.clickhouse."
  type        = number
}

variable "secrets_encryption_key_recovery_window_in_days" {
  description = "`recovery_window_in_days` of aws_secretsmanager_secret.encryption_key."
  type        = number
}

variable "secrets_jwt_recovery_window_in_days" {
  description = "`recovery_window_in_days` of aws_secretsmanager_secret.jwt."
  type        = number
}

variable "secrets_opensearch_recovery_window_in_days" {
  description = "`recovery_window_in_days` of aws_secretsmanager_secret.opensearch."
  type        = number
}

variable "secrets_rabbitmq_recovery_window_in_days" {
  description = "`recovery_window_in_days` of aws_secretsmanager_secret.rabbitmq."
  type        = number
}

variable "secrets_redis_recovery_window_in_days" {
  description = "`recovery_window_in_days` of aws_secretsmanager_secret.redis."
  type        = number
}

variable "secrets_service_api_key_recovery_window_in_days" {
  description = "`recovery_window_in_days` of aws_secretsmanager_secret.service_api_key."
  type        = number
}

variable "secrets_webhook_hmac_recovery_window_in_days" {
  description = "`recovery_window_in_days` of aws_secretsmanager_secret.webhook_hmac."
  type        = number
}

variable "services_backend_logs_retention_in_days" {
  description = "`retention_in_days` of aws_cloudwatch_log_group.backend_logs."
  type        = number
}

variable "services_backend_scaling_max_capacity" {
  description = "`max_capacity` of aws_appautoscaling_target.backend_scaling."
  type        = number
}

variable "services_backend_task_container_definitions_variant" {
  description = "Which value of `container_definitions` aws_ecs_task_definition.backend_task takes (its references differ)."
  type        = number
}

variable "services_backend_task_cpu" {
  description = "`cpu` of aws_ecs_task_definition.backend_task."
  type        = string
}

variable "services_backend_task_memory" {
  description = "`memory` of aws_ecs_task_definition.backend_task."
  type        = string
}

variable "services_migrate_logs_retention_in_days" {
  description = "`retention_in_days` of aws_cloudwatch_log_group.migrate_logs."
  type        = number
}

variable "services_migrate_task_container_definitions_variant" {
  description = "Which value of `container_definitions` aws_ecs_task_definition.migrate_task takes (its references differ)."
  type        = number
}

variable "services_migrate_task_cpu" {
  description = "`cpu` of aws_ecs_task_definition.migrate_task."
  type        = string
}

variable "services_migrate_task_memory" {
  description = "`memory` of aws_ecs_task_definition.migrate_task."
  type        = string
}

variable "services_scraper_logs_retention_in_days" {
  description = "`retention_in_days` of aws_cloudwatch_log_group.scraper_logs."
  type        = number
}

variable "services_scraper_scaling_max_capacity" {
  description = "`max_capacity` of aws_appautoscaling_target.scraper_scaling."
  type        = number
}

variable "services_scraper_task_container_definitions_variant" {
  description = "Which value of `container_definitions` aws_ecs_task_definition.scraper_task takes (its references differ)."
  type        = number
}

variable "services_scraper_task_cpu" {
  description = "`cpu` of aws_ecs_task_definition.scraper_task."
  type        = string
}

variable "services_scraper_task_memory" {
  description = "`memory` of aws_ecs_task_definition.scraper_task."
  type        = string
}

variable "services_temporal_worker_logs_retention_in_days" {
  description = "`retention_in_days` of aws_cloudwatch_log_group.temporal_worker_logs."
  type        = number
}

variable "services_temporal_worker_task_container_definitions_variant" {
  description = "Which value of `container_definitions` aws_ecs_task_definition.temporal_worker_task takes (its references differ)."
  type        = number
}

variable "temporal_temporal_server_logs_retention_in_days" {
  description = "`retention_in_days` of aws_cloudwatch_log_group.temporal_server_logs."
  type        = number
}
