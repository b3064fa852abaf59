module "account" {
  source = "../../modules/account"
}

module "alb" {
  source                                                 = "../../modules/alb"
  access_logs_force_destroy                              = var.alb_access_logs_force_destroy
  account_caller_account_id                              = module.account.caller_account_id
  account_caller_partition                               = module.account.caller_partition
  alb_enable_deletion_protection                         = var.alb_alb_enable_deletion_protection
  api_record_name                                        = var.alb_api_record_name
  certificate_domain_name                                = var.alb_certificate_domain_name
  certificate_validation_api_app_morket_io_enabled       = var.alb_certificate_validation_api_app_morket_io_enabled
  certificate_validation_api_staging_morket_io_enabled   = var.alb_certificate_validation_api_staging_morket_io_enabled
  certificate_validation_validation_record_fqdns_variant = var.alb_certificate_validation_validation_record_fqdns_variant
  dns_zone_zone_id                                       = module.dns.zone_zone_id
  https_default_action_redirect_host                     = var.alb_https_default_action_redirect_host
  network_igw_id                                         = module.network.igw_id
  network_public_us_east_1a_id                           = module.network.public_us_east_1a_id
  network_public_us_east_1b_id                           = module.network.public_us_east_1b_id
  network_sg_alb_id                                      = module.network.sg_alb_id
  network_vpc_id                                         = module.network.vpc_id
  stack                                                  = var.stack
  waf_description                                        = var.alb_waf_description
  waf_logs_retention_in_days                             = var.alb_waf_logs_retention_in_days
}

module "aurora" {
  source                            = "../../modules/aurora"
  account_caller_partition          = module.account.caller_partition
  account_rds_role_id               = module.account.rds_role_id
  cluster_apply_immediately         = var.aurora_cluster_apply_immediately
  cluster_deletion_protection       = var.aurora_cluster_deletion_protection
  cluster_final_snapshot_identifier = var.aurora_cluster_final_snapshot_identifier
  cluster_skip_final_snapshot       = var.aurora_cluster_skip_final_snapshot
  network_private_us_east_1a_id     = module.network.private_us_east_1a_id
  network_private_us_east_1b_id     = module.network.private_us_east_1b_id
  network_sg_aurora_id              = module.network.sg_aurora_id
  reader_1_apply_immediately        = var.aurora_reader_1_apply_immediately
  reader_1_instance_class           = var.aurora_reader_1_instance_class
  stack                             = var.stack
  writer_apply_immediately          = var.aurora_writer_apply_immediately
  writer_instance_class             = var.aurora_writer_instance_class
}

module "backup" {
  source                   = "../../modules/backup"
  account_caller_partition = module.account.caller_partition
  clickhouse_data_arn      = module.clickhouse.data_arn
  stack                    = var.stack
  vault_force_destroy      = var.backup_vault_force_destroy
}

module "clickhouse" {
  source                                = "../../modules/clickhouse"
  data_size                             = var.clickhouse_data_size
  launch_template_instance_type         = var.clickhouse_launch_template_instance_type
  launch_template_user_data             = var.clickhouse_launch_template_user_data
  network_private_default_us_east_1a_id = module.network.private_default_us_east_1a_id
  network_private_rta_us_east_1a_id     = module.network.private_rta_us_east_1a_id
  network_private_us_east_1a_id         = module.network.private_us_east_1a_id
  network_sg_clickhouse_id              = module.network.sg_clickhouse_id
  secrets_clickhouse_arn                = module.secrets.clickhouse_arn
  stack                                 = var.stack
}

module "dns" {
  source = "../../modules/dns"
}

module "ecs" {
  source              = "../../modules/ecs"
  account_ecs_role_id = module.account.ecs_role_id
  stack               = var.stack
}

module "edge" {
  source                                                 = "../../modules/edge"
  alb_access_logs_bucket                                 = module.alb.access_logs_bucket
  alias_a_name                                           = var.edge_alias_a_name
  alias_aaaa_name                                        = var.edge_alias_aaaa_name
  certificate_domain_name                                = var.edge_certificate_domain_name
  certificate_validation_app_morket_io_enabled           = var.edge_certificate_validation_app_morket_io_enabled
  certificate_validation_staging_morket_io_enabled       = var.edge_certificate_validation_staging_morket_io_enabled
  certificate_validation_validation_record_fqdns_variant = var.edge_certificate_validation_validation_record_fqdns_variant
  distribution_aliases                                   = var.edge_distribution_aliases
  dns_zone_zone_id                                       = module.dns.zone_zone_id
  exports_force_destroy                                  = var.edge_exports_force_destroy
  frontend_force_destroy                                 = var.edge_frontend_force_destroy
  stack                                                  = var.stack
}

module "network" {
  source                                            = "../../modules/network"
  flow_log_group_retention_in_days                  = var.network_flow_log_group_retention_in_days
  nat_eip_us_east_1b_enabled                        = var.network_nat_eip_us_east_1b_enabled
  nat_us_east_1b_enabled                            = var.network_nat_us_east_1b_enabled
  private_default_us_east_1b_nat_gateway_id_variant = var.network_private_default_us_east_1b_nat_gateway_id_variant
  stack                                             = var.stack
}

module "observability" {
  source                            = "../../modules/observability"
  account_caller_account_id         = module.account.caller_account_id
  alb_alb_arn_suffix                = module.alb.alb_arn_suffix
  alb_backend_arn_suffix            = module.alb.backend_arn_suffix
  alb_scraper_arn_suffix            = module.alb.scraper_arn_suffix
  aurora_cluster_cluster_identifier = module.aurora.cluster_cluster_identifier
  clickhouse_instance_id            = module.clickhouse.instance_id
  dashboard_dashboard_body_variant  = var.observability_dashboard_dashboard_body_variant
  ecs_cluster_name                  = module.ecs.cluster_name
  opensearch_domain_domain_name     = module.opensearch.domain_domain_name
  redis_002_cpu_enabled             = var.observability_redis_002_cpu_enabled
  redis_replication_group_id        = module.redis.replication_group_id
  services_backend_logs_name        = module.services.backend_logs_name
  services_backend_name             = module.services.backend_name
  services_scraper_name             = module.services.scraper_name
  services_temporal_worker_name     = module.services.temporal_worker_name
  stack                             = var.stack
  temporal_temporal_server_name     = module.temporal.temporal_server_name
}

module "opensearch" {
  source                                              = "../../modules/opensearch"
  account_caller_account_id                           = module.account.caller_account_id
  account_caller_partition                            = module.account.caller_partition
  account_opensearch_role_id                          = module.account.opensearch_role_id
  application_logs_retention_in_days                  = var.opensearch_application_logs_retention_in_days
  audit_logs_retention_in_days                        = var.opensearch_audit_logs_retention_in_days
  domain_cluster_config_instance_count                = var.opensearch_domain_cluster_config_instance_count
  domain_cluster_config_instance_type                 = var.opensearch_domain_cluster_config_instance_type
  domain_cluster_config_zone_awareness_config_enabled = var.opensearch_domain_cluster_config_zone_awareness_config_enabled
  domain_cluster_config_zone_awareness_enabled        = var.opensearch_domain_cluster_config_zone_awareness_enabled
  domain_ebs_options_volume_size                      = var.opensearch_domain_ebs_options_volume_size
  domain_vpc_options_subnet_ids_variant               = var.opensearch_domain_vpc_options_subnet_ids_variant
  network_private_us_east_1a_id                       = module.network.private_us_east_1a_id
  network_private_us_east_1b_id                       = module.network.private_us_east_1b_id
  network_sg_opensearch_id                            = module.network.sg_opensearch_id
  stack                                               = var.stack
}

module "rabbitmq" {
  source                        = "../../modules/rabbitmq"
  broker_deployment_mode        = var.rabbitmq_broker_deployment_mode
  broker_subnet_ids_variant     = var.rabbitmq_broker_subnet_ids_variant
  network_private_us_east_1a_id = module.network.private_us_east_1a_id
  network_private_us_east_1b_id = module.network.private_us_east_1b_id
  network_sg_rabbitmq_id        = module.network.sg_rabbitmq_id
  stack                         = var.stack
}

module "redis" {
  source                                       = "../../modules/redis"
  account_elasticache_role_id                  = module.account.elasticache_role_id
  network_private_us_east_1a_id                = module.network.private_us_east_1a_id
  network_private_us_east_1b_id                = module.network.private_us_east_1b_id
  network_sg_redis_id                          = module.network.sg_redis_id
  replication_group_automatic_failover_enabled = var.redis_replication_group_automatic_failover_enabled
  replication_group_multi_az_enabled           = var.redis_replication_group_multi_az_enabled
  replication_group_node_type                  = var.redis_replication_group_node_type
  replication_group_num_cache_clusters         = var.redis_replication_group_num_cache_clusters
  stack                                        = var.stack
}

module "registry" {
  source                = "../../modules/registry"
  backend_force_delete  = var.registry_backend_force_delete
  frontend_force_delete = var.registry_frontend_force_delete
  scraper_force_delete  = var.registry_scraper_force_delete
  stack                 = var.stack
}

module "secrets" {
  source                                  = "../../modules/secrets"
  aurora_cluster_master_user_secret_arn   = module.aurora.cluster_master_user_secret_arn
  clickhouse_recovery_window_in_days      = var.secrets_clickhouse_recovery_window_in_days
  encryption_key_recovery_window_in_days  = var.secrets_encryption_key_recovery_window_in_days
  jwt_recovery_window_in_days             = var.secrets_jwt_recovery_window_in_days
  opensearch_master_password_result       = module.opensearch.master_password_result
  opensearch_recovery_window_in_days      = var.secrets_opensearch_recovery_window_in_days
  rabbitmq_admin_password_result          = module.rabbitmq.admin_password_result
  rabbitmq_recovery_window_in_days        = var.secrets_rabbitmq_recovery_window_in_days
  redis_auth_token_result                 = module.redis.auth_token_result
  redis_recovery_window_in_days           = var.secrets_redis_recovery_window_in_days
  service_api_key_recovery_window_in_days = var.secrets_service_api_key_recovery_window_in_days
  stack                                   = var.stack
  webhook_hmac_recovery_window_in_days    = var.secrets_webhook_hmac_recovery_window_in_days
}

module "services" {
  source                                             = "../../modules/services"
  alb_api_id                                         = module.alb.api_id
  alb_backend_arn                                    = module.alb.backend_arn
  alb_scrape_id                                      = module.alb.scrape_id
  alb_scraper_arn                                    = module.alb.scraper_arn
  aurora_cluster_endpoint                            = module.aurora.cluster_endpoint
  aurora_cluster_master_user_secret_arn              = module.aurora.cluster_master_user_secret_arn
  aurora_writer_id                                   = module.aurora.writer_id
  backend_logs_retention_in_days                     = var.services_backend_logs_retention_in_days
  backend_scaling_max_capacity                       = var.services_backend_scaling_max_capacity
  backend_task_container_definitions_variant         = var.services_backend_task_container_definitions_variant
  backend_task_cpu                                   = var.services_backend_task_cpu
  backend_task_memory                                = var.services_backend_task_memory
  clickhouse_instance_private_ip                     = module.clickhouse.instance_private_ip
  ecs_cluster_arn                                    = module.ecs.cluster_arn
  ecs_cluster_name                                   = module.ecs.cluster_name
  edge_exports_arn                                   = module.edge.exports_arn
  migrate_logs_retention_in_days                     = var.services_migrate_logs_retention_in_days
  migrate_task_container_definitions_variant         = var.services_migrate_task_container_definitions_variant
  migrate_task_cpu                                   = var.services_migrate_task_cpu
  migrate_task_memory                                = var.services_migrate_task_memory
  network_private_us_east_1a_id                      = module.network.private_us_east_1a_id
  network_private_us_east_1b_id                      = module.network.private_us_east_1b_id
  network_sg_ecs_id                                  = module.network.sg_ecs_id
  opensearch_domain_endpoint                         = module.opensearch.domain_endpoint
  rabbitmq_broker_amqps_endpoint                     = module.rabbitmq.broker_amqps_endpoint
  redis_replication_group_primary_endpoint_address   = module.redis.replication_group_primary_endpoint_address
  registry_backend_name                              = module.registry.backend_name
  registry_backend_repository_url                    = module.registry.backend_repository_url
  registry_scraper_name                              = module.registry.scraper_name
  registry_scraper_repository_url                    = module.registry.scraper_repository_url
  scraper_logs_retention_in_days                     = var.services_scraper_logs_retention_in_days
  scraper_scaling_max_capacity                       = var.services_scraper_scaling_max_capacity
  scraper_task_container_definitions_variant         = var.services_scraper_task_container_definitions_variant
  scraper_task_cpu                                   = var.services_scraper_task_cpu
  scraper_task_memory                                = var.services_scraper_task_memory
  secrets_clickhouse_arn                             = module.secrets.clickhouse_arn
  secrets_clickhouse_value_id                        = module.secrets.clickhouse_value_id
  secrets_encryption_key_arn                         = module.secrets.encryption_key_arn
  secrets_encryption_key_value_id                    = module.secrets.encryption_key_value_id
  secrets_jwt_arn                                    = module.secrets.jwt_arn
  secrets_jwt_value_id                               = module.secrets.jwt_value_id
  secrets_opensearch_arn                             = module.secrets.opensearch_arn
  secrets_opensearch_value_id                        = module.secrets.opensearch_value_id
  secrets_rabbitmq_arn                               = module.secrets.rabbitmq_arn
  secrets_rabbitmq_value_id                          = module.secrets.rabbitmq_value_id
  secrets_redis_arn                                  = module.secrets.redis_arn
  secrets_redis_value_id                             = module.secrets.redis_value_id
  secrets_service_api_key_arn                        = module.secrets.service_api_key_arn
  secrets_service_api_key_value_id                   = module.secrets.service_api_key_value_id
  secrets_webhook_hmac_arn                           = module.secrets.webhook_hmac_arn
  secrets_webhook_hmac_value_id                      = module.secrets.webhook_hmac_value_id
  stack                                              = var.stack
  temporal_worker_logs_retention_in_days             = var.services_temporal_worker_logs_retention_in_days
  temporal_worker_task_container_definitions_variant = var.services_temporal_worker_task_container_definitions_variant
}

module "temporal" {
  source                                 = "../../modules/temporal"
  aurora_cluster_endpoint                = module.aurora.cluster_endpoint
  aurora_cluster_master_user_secret_arn  = module.aurora.cluster_master_user_secret_arn
  aurora_writer_id                       = module.aurora.writer_id
  ecs_cluster_arn                        = module.ecs.cluster_arn
  network_private_us_east_1a_id          = module.network.private_us_east_1a_id
  network_private_us_east_1b_id          = module.network.private_us_east_1b_id
  network_sg_aurora_id                   = module.network.sg_aurora_id
  network_sg_temporal_id                 = module.network.sg_temporal_id
  network_vpc_id                         = module.network.vpc_id
  stack                                  = var.stack
  temporal_server_logs_retention_in_days = var.temporal_temporal_server_logs_retention_in_days
}
