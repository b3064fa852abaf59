resource "aws_sns_topic" "alarms" {
  # checkov:skip=CKV_AWS_26:CloudWatch alarms cannot publish to a topic under the AWS-managed aws/sns key, and the stack builds no CMK
  name         = "morket-${var.stack}-alarms"
  display_name = "Morket ${var.stack} alarms"
  tags = {
    Name         = "morket-${var.stack}-alarms"
    "morket:urn" = "${var.stack}::observability::aws:sns/Topic::alarms"
  }
}

resource "aws_cloudwatch_metric_alarm" "aurora_writer_cpu" {
  alarm_name        = "morket-${var.stack}-aurora-writer-cpu"
  alarm_description = "Aurora writer CPU above 80 % for 10 minutes (R16.2)"
  namespace         = "AWS/RDS"
  metric_name       = "CPUUtilization"
  dimensions = {
    DBClusterIdentifier = var.aurora_cluster_cluster_identifier
    Role                = "WRITER"
  }
  statistic           = "Average"
  period              = 300
  evaluation_periods  = 2
  threshold           = 80
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "missing"
  actions_enabled     = true
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  tags = {
    Name         = "morket-${var.stack}-aurora-writer-cpu"
    "morket:urn" = "${var.stack}::observability::aws:cloudwatch/MetricAlarm::aurora-writer-cpu"
  }
}

resource "aws_cloudwatch_metric_alarm" "aurora_writer_freeable_memory" {
  alarm_name        = "morket-${var.stack}-aurora-writer-freeable-memory"
  alarm_description = "Aurora writer freeable memory below 500 MB for 10 minutes (R16.2)"
  namespace         = "AWS/RDS"
  metric_name       = "FreeableMemory"
  dimensions = {
    DBClusterIdentifier = var.aurora_cluster_cluster_identifier
    Role                = "WRITER"
  }
  statistic           = "Minimum"
  period              = 300
  evaluation_periods  = 2
  threshold           = 524288000
  comparison_operator = "LessThanThreshold"
  treat_missing_data  = "missing"
  actions_enabled     = true
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  tags = {
    Name         = "morket-${var.stack}-aurora-writer-freeable-memory"
    "morket:urn" = "${var.stack}::observability::aws:cloudwatch/MetricAlarm::aurora-writer-freeable-memory"
  }
}

resource "aws_cloudwatch_metric_alarm" "aurora_reader_cpu" {
  alarm_name        = "morket-${var.stack}-aurora-reader-cpu"
  alarm_description = "Aurora reader CPU above 80 % for 10 minutes (R16.2)"
  namespace         = "AWS/RDS"
  metric_name       = "CPUUtilization"
  dimensions = {
    DBClusterIdentifier = var.aurora_cluster_cluster_identifier
    Role                = "READER"
  }
  statistic           = "Average"
  period              = 300
  evaluation_periods  = 2
  threshold           = 80
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "missing"
  actions_enabled     = true
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  tags = {
    Name         = "morket-${var.stack}-aurora-reader-cpu"
    "morket:urn" = "${var.stack}::observability::aws:cloudwatch/MetricAlarm::aurora-reader-cpu"
  }
}

resource "aws_cloudwatch_metric_alarm" "aurora_reader_freeable_memory" {
  alarm_name        = "morket-${var.stack}-aurora-reader-freeable-memory"
  alarm_description = "Aurora reader freeable memory below 500 MB for 10 minutes (R16.2)"
  namespace         = "AWS/RDS"
  metric_name       = "FreeableMemory"
  dimensions = {
    DBClusterIdentifier = var.aurora_cluster_cluster_identifier
    Role                = "READER"
  }
  statistic           = "Minimum"
  period              = 300
  evaluation_periods  = 2
  threshold           = 524288000
  comparison_operator = "LessThanThreshold"
  treat_missing_data  = "missing"
  actions_enabled     = true
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  tags = {
    Name         = "morket-${var.stack}-aurora-reader-freeable-memory"
    "morket:urn" = "${var.stack}::observability::aws:cloudwatch/MetricAlarm::aurora-reader-freeable-memory"
  }
}

resource "aws_cloudwatch_metric_alarm" "redis_001_cpu" {
  alarm_name        = "morket-${var.stack}-redis-001-cpu"
  alarm_description = "Redis node 001 engine CPU above 70 % for 10 minutes (R16.2)"
  namespace         = "AWS/ElastiCache"
  metric_name       = "EngineCPUUtilization"
  dimensions = {
    CacheClusterId = "${var.redis_replication_group_id}-001"
  }
  statistic           = "Average"
  period              = 300
  evaluation_periods  = 2
  threshold           = 70
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "missing"
  actions_enabled     = true
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  tags = {
    Name         = "morket-${var.stack}-redis-001-cpu"
    "morket:urn" = "${var.stack}::observability::aws:cloudwatch/MetricAlarm::redis-001-cpu"
  }
}

resource "aws_cloudwatch_metric_alarm" "clickhouse_cpu" {
  alarm_name        = "morket-${var.stack}-clickhouse-cpu"
  alarm_description = "ClickHouse EC2 instance CPU above 80 % for 10 minutes (R16.2)"
  namespace         = "AWS/EC2"
  metric_name       = "CPUUtilization"
  dimensions = {
    InstanceId = var.clickhouse_instance_id
  }
  statistic           = "Average"
  period              = 300
  evaluation_periods  = 2
  threshold           = 80
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "missing"
  actions_enabled     = true
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  tags = {
    Name         = "morket-${var.stack}-clickhouse-cpu"
    "morket:urn" = "${var.stack}::observability::aws:cloudwatch/MetricAlarm::clickhouse-cpu"
  }
}

resource "aws_cloudwatch_metric_alarm" "backend_cpu" {
  alarm_name        = "morket-${var.stack}-backend-cpu"
  alarm_description = "ECS service backend cpu above 80 % for 10 minutes (R16.2)"
  namespace         = "AWS/ECS"
  metric_name       = "CPUUtilization"
  dimensions = {
    ClusterName = var.ecs_cluster_name
    ServiceName = var.services_backend_name
  }
  statistic           = "Average"
  period              = 300
  evaluation_periods  = 2
  threshold           = 80
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  actions_enabled     = true
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  tags = {
    Name         = "morket-${var.stack}-backend-cpu"
    "morket:urn" = "${var.stack}::observability::aws:cloudwatch/MetricAlarm::backend-cpu"
  }
}

resource "aws_cloudwatch_metric_alarm" "backend_memory" {
  alarm_name        = "morket-${var.stack}-backend-memory"
  alarm_description = "ECS service backend memory above 80 % for 10 minutes (R16.2)"
  namespace         = "AWS/ECS"
  metric_name       = "MemoryUtilization"
  dimensions = {
    ClusterName = var.ecs_cluster_name
    ServiceName = var.services_backend_name
  }
  statistic           = "Average"
  period              = 300
  evaluation_periods  = 2
  threshold           = 80
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  actions_enabled     = true
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  tags = {
    Name         = "morket-${var.stack}-backend-memory"
    "morket:urn" = "${var.stack}::observability::aws:cloudwatch/MetricAlarm::backend-memory"
  }
}

resource "aws_cloudwatch_metric_alarm" "scraper_cpu" {
  alarm_name        = "morket-${var.stack}-scraper-cpu"
  alarm_description = "ECS service scraper cpu above 80 % for 10 minutes (R16.2)"
  namespace         = "AWS/ECS"
  metric_name       = "CPUUtilization"
  dimensions = {
    ClusterName = var.ecs_cluster_name
    ServiceName = var.services_scraper_name
  }
  statistic           = "Average"
  period              = 300
  evaluation_periods  = 2
  threshold           = 80
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  actions_enabled     = true
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  tags = {
    Name         = "morket-${var.stack}-scraper-cpu"
    "morket:urn" = "${var.stack}::observability::aws:cloudwatch/MetricAlarm::scraper-cpu"
  }
}

resource "aws_cloudwatch_metric_alarm" "scraper_memory" {
  alarm_name        = "morket-${var.stack}-scraper-memory"
  alarm_description = "ECS service scraper memory above 80 % for 10 minutes (R16.2)"
  namespace         = "AWS/ECS"
  metric_name       = "MemoryUtilization"
  dimensions = {
    ClusterName = var.ecs_cluster_name
    ServiceName = var.services_scraper_name
  }
  statistic           = "Average"
  period              = 300
  evaluation_periods  = 2
  threshold           = 80
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  actions_enabled     = true
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  tags = {
    Name         = "morket-${var.stack}-scraper-memory"
    "morket:urn" = "${var.stack}::observability::aws:cloudwatch/MetricAlarm::scraper-memory"
  }
}

resource "aws_cloudwatch_metric_alarm" "temporal_worker_cpu" {
  alarm_name        = "morket-${var.stack}-temporal-worker-cpu"
  alarm_description = "ECS service temporal-worker cpu above 80 % for 10 minutes (R16.2)"
  namespace         = "AWS/ECS"
  metric_name       = "CPUUtilization"
  dimensions = {
    ClusterName = var.ecs_cluster_name
    ServiceName = var.services_temporal_worker_name
  }
  statistic           = "Average"
  period              = 300
  evaluation_periods  = 2
  threshold           = 80
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  actions_enabled     = true
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  tags = {
    Name         = "morket-${var.stack}-temporal-worker-cpu"
    "morket:urn" = "${var.stack}::observability::aws:cloudwatch/MetricAlarm::temporal-worker-cpu"
  }
}

resource "aws_cloudwatch_metric_alarm" "temporal_worker_memory" {
  alarm_name        = "morket-${var.stack}-temporal-worker-memory"
  alarm_description = "ECS service temporal-worker memory above 80 % for 10 minutes (R16.2)"
  namespace         = "AWS/ECS"
  metric_name       = "MemoryUtilization"
  dimensions = {
    ClusterName = var.ecs_cluster_name
    ServiceName = var.services_temporal_worker_name
  }
  statistic           = "Average"
  period              = 300
  evaluation_periods  = 2
  threshold           = 80
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  actions_enabled     = true
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  tags = {
    Name         = "morket-${var.stack}-temporal-worker-memory"
    "morket:urn" = "${var.stack}::observability::aws:cloudwatch/MetricAlarm::temporal-worker-memory"
  }
}

resource "aws_cloudwatch_metric_alarm" "temporal_server_cpu" {
  alarm_name        = "morket-${var.stack}-temporal-server-cpu"
  alarm_description = "ECS service temporal-server cpu above 80 % for 10 minutes (R16.2)"
  namespace         = "AWS/ECS"
  metric_name       = "CPUUtilization"
  dimensions = {
    ClusterName = var.ecs_cluster_name
    ServiceName = var.temporal_temporal_server_name
  }
  statistic           = "Average"
  period              = 300
  evaluation_periods  = 2
  threshold           = 80
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  actions_enabled     = true
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  tags = {
    Name         = "morket-${var.stack}-temporal-server-cpu"
    "morket:urn" = "${var.stack}::observability::aws:cloudwatch/MetricAlarm::temporal-server-cpu"
  }
}

resource "aws_cloudwatch_metric_alarm" "temporal_server_memory" {
  alarm_name        = "morket-${var.stack}-temporal-server-memory"
  alarm_description = "ECS service temporal-server memory above 80 % for 10 minutes (R16.2)"
  namespace         = "AWS/ECS"
  metric_name       = "MemoryUtilization"
  dimensions = {
    ClusterName = var.ecs_cluster_name
    ServiceName = var.temporal_temporal_server_name
  }
  statistic           = "Average"
  period              = 300
  evaluation_periods  = 2
  threshold           = 80
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  actions_enabled     = true
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  tags = {
    Name         = "morket-${var.stack}-temporal-server-memory"
    "morket:urn" = "${var.stack}::observability::aws:cloudwatch/MetricAlarm::temporal-server-memory"
  }
}

resource "aws_cloudwatch_metric_alarm" "alb_5xx_rate" {
  alarm_name          = "morket-${var.stack}-alb-5xx-rate"
  alarm_description   = "ALB 5xx responses above 5 % of requests over 5 minutes (R16.2)"
  evaluation_periods  = 1
  threshold           = 5
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  actions_enabled     = true
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  tags = {
    Name         = "morket-${var.stack}-alb-5xx-rate"
    "morket:urn" = "${var.stack}::observability::aws:cloudwatch/MetricAlarm::alb-5xx-rate"
  }

  metric_query {
    id          = "elb5xx"
    return_data = false

    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "HTTPCode_ELB_5XX_Count"
      dimensions = {
        LoadBalancer = var.alb_alb_arn_suffix
      }
      period = 300
      stat   = "Sum"
    }
  }

  metric_query {
    id          = "target5xx"
    return_data = false

    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "HTTPCode_Target_5XX_Count"
      dimensions = {
        LoadBalancer = var.alb_alb_arn_suffix
      }
      period = 300
      stat   = "Sum"
    }
  }

  metric_query {
    id          = "requests"
    return_data = false

    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "RequestCount"
      dimensions = {
        LoadBalancer = var.alb_alb_arn_suffix
      }
      period = 300
      stat   = "Sum"
    }
  }

  metric_query {
    id          = "rate"
    expression  = "IF(FILL(requests, 0) > 0, 100 * (FILL(elb5xx, 0) + FILL(target5xx, 0)) / FILL(requests, 0), IF(FILL(elb5xx, 0) > 0, 100, 0))"
    label       = "5xx rate (%)"
    return_data = true
  }
}

resource "aws_cloudwatch_metric_alarm" "alb_backend_response_time" {
  alarm_name        = "morket-${var.stack}-alb-backend-response-time"
  alarm_description = "ALB backend target response time p95 above 2 s over 5 minutes (R16.2)"
  namespace         = "AWS/ApplicationELB"
  metric_name       = "TargetResponseTime"
  dimensions = {
    LoadBalancer = var.alb_alb_arn_suffix
    TargetGroup  = var.alb_backend_arn_suffix
  }
  extended_statistic  = "p95"
  period              = 300
  evaluation_periods  = 1
  threshold           = 2
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  actions_enabled     = true
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  tags = {
    Name         = "morket-${var.stack}-alb-backend-response-time"
    "morket:urn" = "${var.stack}::observability::aws:cloudwatch/MetricAlarm::alb-backend-response-time"
  }
}

resource "aws_cloudwatch_metric_alarm" "alb_scraper_response_time" {
  alarm_name        = "morket-${var.stack}-alb-scraper-response-time"
  alarm_description = "ALB scraper target response time p95 above 2 s over 5 minutes (R16.2)"
  namespace         = "AWS/ApplicationELB"
  metric_name       = "TargetResponseTime"
  dimensions = {
    LoadBalancer = var.alb_alb_arn_suffix
    TargetGroup  = var.alb_scraper_arn_suffix
  }
  extended_statistic  = "p95"
  period              = 300
  evaluation_periods  = 1
  threshold           = 2
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  actions_enabled     = true
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  tags = {
    Name         = "morket-${var.stack}-alb-scraper-response-time"
    "morket:urn" = "${var.stack}::observability::aws:cloudwatch/MetricAlarm::alb-scraper-response-time"
  }
}

resource "aws_cloudwatch_log_metric_filter" "backend_errors" {
  name           = "morket-${var.stack}-backend-errors"
  log_group_name = var.services_backend_logs_name
  pattern        = "?ERROR ?\"\\\"level\\\":\\\"error\\\"\""

  metric_transformation {
    name          = "BackendErrors"
    namespace     = "Morket/${var.stack}"
    value         = "1"
    default_value = 0
    dimensions    = {}
  }
}

resource "aws_cloudwatch_metric_alarm" "backend_errors" {
  alarm_name          = "morket-${var.stack}-backend-errors"
  alarm_description   = "Backend ERROR log entries above 10 per minute (R16.6)"
  namespace           = "Morket/${var.stack}"
  metric_name         = "BackendErrors"
  statistic           = "Sum"
  period              = 60
  evaluation_periods  = 1
  threshold           = 10
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  actions_enabled     = true
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  tags = {
    Name         = "morket-${var.stack}-backend-errors"
    "morket:urn" = "${var.stack}::observability::aws:cloudwatch/MetricAlarm::backend-errors"
  }
  depends_on = [aws_cloudwatch_log_metric_filter.backend_errors]
}

resource "aws_cloudwatch_dashboard" "dashboard" {
  dashboard_name = "morket-${var.stack}-overview"
  dashboard_body = [
    jsonencode({
      widgets = [
        {
          type   = "metric"
          x      = 0
          y      = 0
          width  = 8
          height = 6
          properties = {
            metrics = [
              [
                "ECS/ContainerInsights",
                "RunningTaskCount",
                "ClusterName",
                var.ecs_cluster_name,
                "ServiceName",
                var.services_backend_name,
                {
                  label = "backend"
                },
              ],
              [
                "ECS/ContainerInsights",
                "RunningTaskCount",
                "ClusterName",
                var.ecs_cluster_name,
                "ServiceName",
                var.services_scraper_name,
                {
                  label = "scraper"
                },
              ],
              [
                "ECS/ContainerInsights",
                "RunningTaskCount",
                "ClusterName",
                var.ecs_cluster_name,
                "ServiceName",
                var.services_temporal_worker_name,
                {
                  label = "temporal-worker"
                },
              ],
              [
                "ECS/ContainerInsights",
                "RunningTaskCount",
                "ClusterName",
                var.ecs_cluster_name,
                "ServiceName",
                var.temporal_temporal_server_name,
                {
                  label = "temporal-server"
                },
              ],
            ]
            title  = "ECS running tasks"
            region = "us-east-1"
            stat   = "Average"
            period = 60
          }
        },
        {
          type   = "metric"
          x      = 8
          y      = 0
          width  = 8
          height = 6
          properties = {
            metrics = [
              [
                "AWS/ECS",
                "CPUUtilization",
                "ClusterName",
                var.ecs_cluster_name,
                "ServiceName",
                var.services_backend_name,
                {
                  label = "backend"
                },
              ],
              [
                "AWS/ECS",
                "CPUUtilization",
                "ClusterName",
                var.ecs_cluster_name,
                "ServiceName",
                var.services_scraper_name,
                {
                  label = "scraper"
                },
              ],
              [
                "AWS/ECS",
                "CPUUtilization",
                "ClusterName",
                var.ecs_cluster_name,
                "ServiceName",
                var.services_temporal_worker_name,
                {
                  label = "temporal-worker"
                },
              ],
              [
                "AWS/ECS",
                "CPUUtilization",
                "ClusterName",
                var.ecs_cluster_name,
                "ServiceName",
                var.temporal_temporal_server_name,
                {
                  label = "temporal-server"
                },
              ],
            ]
            title  = "ECS CPU utilization (%)"
            region = "us-east-1"
            stat   = "Average"
            period = 60
          }
        },
        {
          type   = "metric"
          x      = 16
          y      = 0
          width  = 8
          height = 6
          properties = {
            metrics = [
              [
                "AWS/ECS",
                "MemoryUtilization",
                "ClusterName",
                var.ecs_cluster_name,
                "ServiceName",
                var.services_backend_name,
                {
                  label = "backend"
                },
              ],
              [
                "AWS/ECS",
                "MemoryUtilization",
                "ClusterName",
                var.ecs_cluster_name,
                "ServiceName",
                var.services_scraper_name,
                {
                  label = "scraper"
                },
              ],
              [
                "AWS/ECS",
                "MemoryUtilization",
                "ClusterName",
                var.ecs_cluster_name,
                "ServiceName",
                var.services_temporal_worker_name,
                {
                  label = "temporal-worker"
                },
              ],
              [
                "AWS/ECS",
                "MemoryUtilization",
                "ClusterName",
                var.ecs_cluster_name,
                "ServiceName",
                var.temporal_temporal_server_name,
                {
                  label = "temporal-server"
                },
              ],
            ]
            title  = "ECS memory utilization (%)"
            region = "us-east-1"
            stat   = "Average"
            period = 60
          }
        },
        {
          type   = "metric"
          x      = 0
          y      = 6
          width  = 8
          height = 6
          properties = {
            metrics = [
              [
                "AWS/ApplicationELB",
                "RequestCount",
                "LoadBalancer",
                var.alb_alb_arn_suffix,
                {
                  label = "all"
                },
              ],
              [
                "AWS/ApplicationELB",
                "RequestCount",
                "LoadBalancer",
                var.alb_alb_arn_suffix,
                "TargetGroup",
                var.alb_backend_arn_suffix,
                {
                  label = "backend"
                },
              ],
              [
                "AWS/ApplicationELB",
                "RequestCount",
                "LoadBalancer",
                var.alb_alb_arn_suffix,
                "TargetGroup",
                var.alb_scraper_arn_suffix,
                {
                  label = "scraper"
                },
              ],
            ]
            title  = "ALB requests"
            region = "us-east-1"
            stat   = "Sum"
            period = 60
          }
        },
        {
          type   = "metric"
          x      = 8
          y      = 6
          width  = 8
          height = 6
          properties = {
            metrics = [["AWS/ApplicationELB", "HTTPCode_ELB_4XX_Count", "LoadBalancer", var.alb_alb_arn_suffix], ["AWS/ApplicationELB", "HTTPCode_Target_4XX_Count", "LoadBalancer", var.alb_alb_arn_suffix], ["AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", "LoadBalancer", var.alb_alb_arn_suffix], ["AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", "LoadBalancer", var.alb_alb_arn_suffix]]
            title   = "ALB errors"
            region  = "us-east-1"
            stat    = "Sum"
            period  = 60
          }
        },
        {
          type   = "metric"
          x      = 16
          y      = 6
          width  = 8
          height = 6
          properties = {
            metrics = [
              [
                "AWS/ApplicationELB",
                "RequestCount",
                "LoadBalancer",
                var.alb_alb_arn_suffix,
                {
                  id      = "requests"
                  visible = false
                },
              ],
              [
                "AWS/ApplicationELB",
                "HTTPCode_ELB_4XX_Count",
                "LoadBalancer",
                var.alb_alb_arn_suffix,
                {
                  id      = "elb4xx"
                  visible = false
                },
              ],
              [
                "AWS/ApplicationELB",
                "HTTPCode_Target_4XX_Count",
                "LoadBalancer",
                var.alb_alb_arn_suffix,
                {
                  id      = "target4xx"
                  visible = false
                },
              ],
              [
                "AWS/ApplicationELB",
                "HTTPCode_ELB_5XX_Count",
                "LoadBalancer",
                var.alb_alb_arn_suffix,
                {
                  id      = "elb5xx"
                  visible = false
                },
              ],
              [
                "AWS/ApplicationELB",
                "HTTPCode_Target_5XX_Count",
                "LoadBalancer",
                var.alb_alb_arn_suffix,
                {
                  id      = "target5xx"
                  visible = false
                },
              ],
              [
                {
                  id         = "rate4xx"
                  label      = "4xx rate"
                  expression = "IF(FILL(requests, 0) > 0, 100 * (FILL(elb4xx, 0) + FILL(target4xx, 0)) / FILL(requests, 0), 0)"
                },
              ],
              [
                {
                  id         = "rate5xx"
                  label      = "5xx rate"
                  expression = "IF(FILL(requests, 0) > 0, 100 * (FILL(elb5xx, 0) + FILL(target5xx, 0)) / FILL(requests, 0), IF(FILL(elb5xx, 0) > 0, 100, 0))"
                },
              ],
            ]
            title  = "ALB error rate (%)"
            region = "us-east-1"
            stat   = "Sum"
            period = 300
          }
        },
        {
          type   = "metric"
          x      = 0
          y      = 12
          width  = 8
          height = 6
          properties = {
            metrics = [
              [
                "AWS/ApplicationELB",
                "TargetResponseTime",
                "LoadBalancer",
                var.alb_alb_arn_suffix,
                "TargetGroup",
                var.alb_backend_arn_suffix,
                {
                  label = "backend p95"
                  stat  = "p95"
                },
              ],
              [
                "AWS/ApplicationELB",
                "TargetResponseTime",
                "LoadBalancer",
                var.alb_alb_arn_suffix,
                "TargetGroup",
                var.alb_backend_arn_suffix,
                {
                  label = "backend Average"
                  stat  = "Average"
                },
              ],
              [
                "AWS/ApplicationELB",
                "TargetResponseTime",
                "LoadBalancer",
                var.alb_alb_arn_suffix,
                "TargetGroup",
                var.alb_scraper_arn_suffix,
                {
                  label = "scraper p95"
                  stat  = "p95"
                },
              ],
              [
                "AWS/ApplicationELB",
                "TargetResponseTime",
                "LoadBalancer",
                var.alb_alb_arn_suffix,
                "TargetGroup",
                var.alb_scraper_arn_suffix,
                {
                  label = "scraper Average"
                  stat  = "Average"
                },
              ],
            ]
            title  = "ALB target response time (s)"
            region = "us-east-1"
            stat   = "Average"
            period = 60
          }
        },
        {
          type   = "metric"
          x      = 8
          y      = 12
          width  = 8
          height = 6
          properties = {
            metrics = [["Morket/${var.stack}", "BackendErrors"]]
            title   = "Backend ERROR log entries per minute"
            region  = "us-east-1"
            stat    = "Sum"
            period  = 60
          }
        },
        {
          type   = "metric"
          x      = 16
          y      = 12
          width  = 8
          height = 6
          properties = {
            metrics = [
              [
                "AWS/RDS",
                "DatabaseConnections",
                "DBClusterIdentifier",
                var.aurora_cluster_cluster_identifier,
                "Role",
                "WRITER",
                {
                  label = "WRITER"
                },
              ],
              [
                "AWS/RDS",
                "DatabaseConnections",
                "DBClusterIdentifier",
                var.aurora_cluster_cluster_identifier,
                "Role",
                "READER",
                {
                  label = "READER"
                },
              ],
            ]
            title  = "Aurora connections"
            region = "us-east-1"
            stat   = "Average"
            period = 60
          }
        },
        {
          type   = "metric"
          x      = 0
          y      = 18
          width  = 8
          height = 6
          properties = {
            metrics = [
              [
                "AWS/RDS",
                "ReadLatency",
                "DBClusterIdentifier",
                var.aurora_cluster_cluster_identifier,
                "Role",
                "WRITER",
                {
                  label = "WRITER read (s)"
                },
              ],
              [
                "AWS/RDS",
                "WriteLatency",
                "DBClusterIdentifier",
                var.aurora_cluster_cluster_identifier,
                "Role",
                "WRITER",
                {
                  label = "WRITER write (s)"
                },
              ],
              [
                "AWS/RDS",
                "ReadLatency",
                "DBClusterIdentifier",
                var.aurora_cluster_cluster_identifier,
                "Role",
                "READER",
                {
                  label = "READER read (s)"
                },
              ],
              [
                "AWS/RDS",
                "WriteLatency",
                "DBClusterIdentifier",
                var.aurora_cluster_cluster_identifier,
                "Role",
                "READER",
                {
                  label = "READER write (s)"
                },
              ],
              [
                "AWS/RDS",
                "CommitLatency",
                "DBClusterIdentifier",
                var.aurora_cluster_cluster_identifier,
                "Role",
                "WRITER",
                {
                  label = "WRITER commit (ms)"
                  yAxis = "right"
                },
              ],
            ]
            title  = "Aurora latency"
            region = "us-east-1"
            stat   = "Average"
            period = 60
          }
        },
        {
          type   = "metric"
          x      = 8
          y      = 18
          width  = 12
          height = 6
          properties = {
            metrics = [
              [
                "AWS/ElastiCache",
                "CacheHitRate",
                "CacheClusterId",
                "${var.redis_replication_group_id}-001",
                {
                  label = "001"
                },
              ],
              [
                "AWS/ElastiCache",
                "CacheHitRate",
                "CacheClusterId",
                "${var.redis_replication_group_id}-002",
                {
                  label = "002"
                },
              ],
            ]
            title  = "Redis cache hit rate (%)"
            region = "us-east-1"
            stat   = "Average"
            period = 60
          }
        },
        {
          type   = "metric"
          x      = 0
          y      = 24
          width  = 12
          height = 6
          properties = {
            metrics = [
              [
                "AWS/ElastiCache",
                "DatabaseMemoryUsagePercentage",
                "CacheClusterId",
                "${var.redis_replication_group_id}-001",
                {
                  label = "001"
                },
              ],
              [
                "AWS/ElastiCache",
                "DatabaseMemoryUsagePercentage",
                "CacheClusterId",
                "${var.redis_replication_group_id}-002",
                {
                  label = "002"
                },
              ],
            ]
            title  = "Redis memory used (%)"
            region = "us-east-1"
            stat   = "Average"
            period = 60
          }
        },
        {
          type   = "metric"
          x      = 12
          y      = 24
          width  = 12
          height = 6
          properties = {
            metrics = [
              [
                "AWS/ES",
                "ClusterStatus.green",
                "DomainName",
                var.opensearch_domain_domain_name,
                "ClientId",
                var.account_caller_account_id,
                {
                  label = "green"
                  color = "#2ca02c"
                },
              ],
              [
                "AWS/ES",
                "ClusterStatus.yellow",
                "DomainName",
                var.opensearch_domain_domain_name,
                "ClientId",
                var.account_caller_account_id,
                {
                  label = "yellow"
                  color = "#ffbb00"
                },
              ],
              [
                "AWS/ES",
                "ClusterStatus.red",
                "DomainName",
                var.opensearch_domain_domain_name,
                "ClientId",
                var.account_caller_account_id,
                {
                  label = "red"
                  color = "#d62728"
                },
              ],
            ]
            title  = "OpenSearch cluster health"
            region = "us-east-1"
            stat   = "Maximum"
            period = 60
          }
        },
        {
          type   = "metric"
          x      = 0
          y      = 30
          width  = 12
          height = 6
          properties = {
            metrics = [["AWS/ES", "IndexingRate", "DomainName", var.opensearch_domain_domain_name, "ClientId", var.account_caller_account_id]]
            title   = "OpenSearch indexing rate (ops/min)"
            region  = "us-east-1"
            stat    = "Average"
            period  = 60
          }
        },
        {
          type   = "metric"
          x      = 12
          y      = 30
          width  = 8
          height = 6
          properties = {
            metrics = [
              [
                "AWS/EC2",
                "CPUUtilization",
                "InstanceId",
                var.clickhouse_instance_id,
                {
                  label = "CPU (%)"
                },
              ],
              [
                "AWS/EC2",
                "NetworkIn",
                "InstanceId",
                var.clickhouse_instance_id,
                {
                  stat  = "Sum"
                  yAxis = "right"
                },
              ],
              [
                "AWS/EC2",
                "NetworkOut",
                "InstanceId",
                var.clickhouse_instance_id,
                {
                  stat  = "Sum"
                  yAxis = "right"
                },
              ],
            ]
            title  = "ClickHouse host (EC2)"
            region = "us-east-1"
            stat   = "Average"
            period = 300
          }
        },
        {
          type   = "metric"
          x      = 0
          y      = 36
          width  = 8
          height = 6
          properties = {
            metrics = [["Morket/${var.stack}", "ClickHouseQueries", "InstanceId", var.clickhouse_instance_id]]
            title   = "ClickHouse queries per minute"
            region  = "us-east-1"
            stat    = "Sum"
            period  = 60
          }
        },
        {
          type   = "metric"
          x      = 8
          y      = 36
          width  = 8
          height = 6
          properties = {
            metrics = [["Morket/${var.stack}", "ClickHouseQueryDurationMs", "InstanceId", var.clickhouse_instance_id]]
            title   = "ClickHouse query duration (ms)"
            region  = "us-east-1"
            stat    = "Average"
            period  = 60
          }
        },
        {
          type   = "text"
          x      = 0
          y      = 42
          width  = 24
          height = 3
          properties = {
            markdown = "**ClickHouse query metrics.** ClickHouse on EC2 publishes nothing to CloudWatch itself: a timer on the instance puts `Morket/${var.stack}` / `ClickHouseQueries` (queries finished in the minute, from `system.query_log`) and `ClickHouseQueryDurationMs` (their mean `query_duration_ms`), dimension `InstanceId`, every minute with the instance role. The host graph (CPU, network) is AWS's own."
          }
        },
        {
          type   = "alarm"
          x      = 0
          y      = 45
          width  = 24
          height = 6
          properties = {
            alarms = [aws_cloudwatch_metric_alarm.aurora_writer_cpu.arn, aws_cloudwatch_metric_alarm.aurora_writer_freeable_memory.arn, aws_cloudwatch_metric_alarm.aurora_reader_cpu.arn, aws_cloudwatch_metric_alarm.aurora_reader_freeable_memory.arn, aws_cloudwatch_metric_alarm.redis_001_cpu.arn, one(aws_cloudwatch_metric_alarm.redis_002_cpu[*].arn), aws_cloudwatch_metric_alarm.clickhouse_cpu.arn, aws_cloudwatch_metric_alarm.backend_cpu.arn, aws_cloudwatch_metric_alarm.backend_memory.arn, aws_cloudwatch_metric_alarm.scraper_cpu.arn, aws_cloudwatch_metric_alarm.scraper_memory.arn, aws_cloudwatch_metric_alarm.temporal_worker_cpu.arn, aws_cloudwatch_metric_alarm.temporal_worker_memory.arn, aws_cloudwatch_metric_alarm.temporal_server_cpu.arn, aws_cloudwatch_metric_alarm.temporal_server_memory.arn, aws_cloudwatch_metric_alarm.alb_5xx_rate.arn, aws_cloudwatch_metric_alarm.alb_backend_response_time.arn, aws_cloudwatch_metric_alarm.alb_scraper_response_time.arn, aws_cloudwatch_metric_alarm.backend_errors.arn]
            title  = "Alarms"
          }
        },
      ]
    }),
    jsonencode({
      widgets = [
        {
          type   = "metric"
          x      = 0
          y      = 0
          width  = 8
          height = 6
          properties = {
            metrics = [
              [
                "ECS/ContainerInsights",
                "RunningTaskCount",
                "ClusterName",
                var.ecs_cluster_name,
                "ServiceName",
                var.services_backend_name,
                {
                  label = "backend"
                },
              ],
              [
                "ECS/ContainerInsights",
                "RunningTaskCount",
                "ClusterName",
                var.ecs_cluster_name,
                "ServiceName",
                var.services_scraper_name,
                {
                  label = "scraper"
                },
              ],
              [
                "ECS/ContainerInsights",
                "RunningTaskCount",
                "ClusterName",
                var.ecs_cluster_name,
                "ServiceName",
                var.services_temporal_worker_name,
                {
                  label = "temporal-worker"
                },
              ],
              [
                "ECS/ContainerInsights",
                "RunningTaskCount",
                "ClusterName",
                var.ecs_cluster_name,
                "ServiceName",
                var.temporal_temporal_server_name,
                {
                  label = "temporal-server"
                },
              ],
            ]
            title  = "ECS running tasks"
            region = "us-east-1"
            stat   = "Average"
            period = 60
          }
        },
        {
          type   = "metric"
          x      = 8
          y      = 0
          width  = 8
          height = 6
          properties = {
            metrics = [
              [
                "AWS/ECS",
                "CPUUtilization",
                "ClusterName",
                var.ecs_cluster_name,
                "ServiceName",
                var.services_backend_name,
                {
                  label = "backend"
                },
              ],
              [
                "AWS/ECS",
                "CPUUtilization",
                "ClusterName",
                var.ecs_cluster_name,
                "ServiceName",
                var.services_scraper_name,
                {
                  label = "scraper"
                },
              ],
              [
                "AWS/ECS",
                "CPUUtilization",
                "ClusterName",
                var.ecs_cluster_name,
                "ServiceName",
                var.services_temporal_worker_name,
                {
                  label = "temporal-worker"
                },
              ],
              [
                "AWS/ECS",
                "CPUUtilization",
                "ClusterName",
                var.ecs_cluster_name,
                "ServiceName",
                var.temporal_temporal_server_name,
                {
                  label = "temporal-server"
                },
              ],
            ]
            title  = "ECS CPU utilization (%)"
            region = "us-east-1"
            stat   = "Average"
            period = 60
          }
        },
        {
          type   = "metric"
          x      = 16
          y      = 0
          width  = 8
          height = 6
          properties = {
            metrics = [
              [
                "AWS/ECS",
                "MemoryUtilization",
                "ClusterName",
                var.ecs_cluster_name,
                "ServiceName",
                var.services_backend_name,
                {
                  label = "backend"
                },
              ],
              [
                "AWS/ECS",
                "MemoryUtilization",
                "ClusterName",
                var.ecs_cluster_name,
                "ServiceName",
                var.services_scraper_name,
                {
                  label = "scraper"
                },
              ],
              [
                "AWS/ECS",
                "MemoryUtilization",
                "ClusterName",
                var.ecs_cluster_name,
                "ServiceName",
                var.services_temporal_worker_name,
                {
                  label = "temporal-worker"
                },
              ],
              [
                "AWS/ECS",
                "MemoryUtilization",
                "ClusterName",
                var.ecs_cluster_name,
                "ServiceName",
                var.temporal_temporal_server_name,
                {
                  label = "temporal-server"
                },
              ],
            ]
            title  = "ECS memory utilization (%)"
            region = "us-east-1"
            stat   = "Average"
            period = 60
          }
        },
        {
          type   = "metric"
          x      = 0
          y      = 6
          width  = 8
          height = 6
          properties = {
            metrics = [
              [
                "AWS/ApplicationELB",
                "RequestCount",
                "LoadBalancer",
                var.alb_alb_arn_suffix,
                {
                  label = "all"
                },
              ],
              [
                "AWS/ApplicationELB",
                "RequestCount",
                "LoadBalancer",
                var.alb_alb_arn_suffix,
                "TargetGroup",
                var.alb_backend_arn_suffix,
                {
                  label = "backend"
                },
              ],
              [
                "AWS/ApplicationELB",
                "RequestCount",
                "LoadBalancer",
                var.alb_alb_arn_suffix,
                "TargetGroup",
                var.alb_scraper_arn_suffix,
                {
                  label = "scraper"
                },
              ],
            ]
            title  = "ALB requests"
            region = "us-east-1"
            stat   = "Sum"
            period = 60
          }
        },
        {
          type   = "metric"
          x      = 8
          y      = 6
          width  = 8
          height = 6
          properties = {
            metrics = [["AWS/ApplicationELB", "HTTPCode_ELB_4XX_Count", "LoadBalancer", var.alb_alb_arn_suffix], ["AWS/ApplicationELB", "HTTPCode_Target_4XX_Count", "LoadBalancer", var.alb_alb_arn_suffix], ["AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", "LoadBalancer", var.alb_alb_arn_suffix], ["AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", "LoadBalancer", var.alb_alb_arn_suffix]]
            title   = "ALB errors"
            region  = "us-east-1"
            stat    = "Sum"
            period  = 60
          }
        },
        {
          type   = "metric"
          x      = 16
          y      = 6
          width  = 8
          height = 6
          properties = {
            metrics = [
              [
                "AWS/ApplicationELB",
                "RequestCount",
                "LoadBalancer",
                var.alb_alb_arn_suffix,
                {
                  id      = "requests"
                  visible = false
                },
              ],
              [
                "AWS/ApplicationELB",
                "HTTPCode_ELB_4XX_Count",
                "LoadBalancer",
                var.alb_alb_arn_suffix,
                {
                  id      = "elb4xx"
                  visible = false
                },
              ],
              [
                "AWS/ApplicationELB",
                "HTTPCode_Target_4XX_Count",
                "LoadBalancer",
                var.alb_alb_arn_suffix,
                {
                  id      = "target4xx"
                  visible = false
                },
              ],
              [
                "AWS/ApplicationELB",
                "HTTPCode_ELB_5XX_Count",
                "LoadBalancer",
                var.alb_alb_arn_suffix,
                {
                  id      = "elb5xx"
                  visible = false
                },
              ],
              [
                "AWS/ApplicationELB",
                "HTTPCode_Target_5XX_Count",
                "LoadBalancer",
                var.alb_alb_arn_suffix,
                {
                  id      = "target5xx"
                  visible = false
                },
              ],
              [
                {
                  id         = "rate4xx"
                  label      = "4xx rate"
                  expression = "IF(FILL(requests, 0) > 0, 100 * (FILL(elb4xx, 0) + FILL(target4xx, 0)) / FILL(requests, 0), 0)"
                },
              ],
              [
                {
                  id         = "rate5xx"
                  label      = "5xx rate"
                  expression = "IF(FILL(requests, 0) > 0, 100 * (FILL(elb5xx, 0) + FILL(target5xx, 0)) / FILL(requests, 0), IF(FILL(elb5xx, 0) > 0, 100, 0))"
                },
              ],
            ]
            title  = "ALB error rate (%)"
            region = "us-east-1"
            stat   = "Sum"
            period = 300
          }
        },
        {
          type   = "metric"
          x      = 0
          y      = 12
          width  = 8
          height = 6
          properties = {
            metrics = [
              [
                "AWS/ApplicationELB",
                "TargetResponseTime",
                "LoadBalancer",
                var.alb_alb_arn_suffix,
                "TargetGroup",
                var.alb_backend_arn_suffix,
                {
                  label = "backend p95"
                  stat  = "p95"
                },
              ],
              [
                "AWS/ApplicationELB",
                "TargetResponseTime",
                "LoadBalancer",
                var.alb_alb_arn_suffix,
                "TargetGroup",
                var.alb_backend_arn_suffix,
                {
                  label = "backend Average"
                  stat  = "Average"
                },
              ],
              [
                "AWS/ApplicationELB",
                "TargetResponseTime",
                "LoadBalancer",
                var.alb_alb_arn_suffix,
                "TargetGroup",
                var.alb_scraper_arn_suffix,
                {
                  label = "scraper p95"
                  stat  = "p95"
                },
              ],
              [
                "AWS/ApplicationELB",
                "TargetResponseTime",
                "LoadBalancer",
                var.alb_alb_arn_suffix,
                "TargetGroup",
                var.alb_scraper_arn_suffix,
                {
                  label = "scraper Average"
                  stat  = "Average"
                },
              ],
            ]
            title  = "ALB target response time (s)"
            region = "us-east-1"
            stat   = "Average"
            period = 60
          }
        },
        {
          type   = "metric"
          x      = 8
          y      = 12
          width  = 8
          height = 6
          properties = {
            metrics = [["Morket/${var.stack}", "BackendErrors"]]
            title   = "Backend ERROR log entries per minute"
            region  = "us-east-1"
            stat    = "Sum"
            period  = 60
          }
        },
        {
          type   = "metric"
          x      = 16
          y      = 12
          width  = 8
          height = 6
          properties = {
            metrics = [
              [
                "AWS/RDS",
                "DatabaseConnections",
                "DBClusterIdentifier",
                var.aurora_cluster_cluster_identifier,
                "Role",
                "WRITER",
                {
                  label = "WRITER"
                },
              ],
              [
                "AWS/RDS",
                "DatabaseConnections",
                "DBClusterIdentifier",
                var.aurora_cluster_cluster_identifier,
                "Role",
                "READER",
                {
                  label = "READER"
                },
              ],
            ]
            title  = "Aurora connections"
            region = "us-east-1"
            stat   = "Average"
            period = 60
          }
        },
        {
          type   = "metric"
          x      = 0
          y      = 18
          width  = 8
          height = 6
          properties = {
            metrics = [
              [
                "AWS/RDS",
                "ReadLatency",
                "DBClusterIdentifier",
                var.aurora_cluster_cluster_identifier,
                "Role",
                "WRITER",
                {
                  label = "WRITER read (s)"
                },
              ],
              [
                "AWS/RDS",
                "WriteLatency",
                "DBClusterIdentifier",
                var.aurora_cluster_cluster_identifier,
                "Role",
                "WRITER",
                {
                  label = "WRITER write (s)"
                },
              ],
              [
                "AWS/RDS",
                "ReadLatency",
                "DBClusterIdentifier",
                var.aurora_cluster_cluster_identifier,
                "Role",
                "READER",
                {
                  label = "READER read (s)"
                },
              ],
              [
                "AWS/RDS",
                "WriteLatency",
                "DBClusterIdentifier",
                var.aurora_cluster_cluster_identifier,
                "Role",
                "READER",
                {
                  label = "READER write (s)"
                },
              ],
              [
                "AWS/RDS",
                "CommitLatency",
                "DBClusterIdentifier",
                var.aurora_cluster_cluster_identifier,
                "Role",
                "WRITER",
                {
                  label = "WRITER commit (ms)"
                  yAxis = "right"
                },
              ],
            ]
            title  = "Aurora latency"
            region = "us-east-1"
            stat   = "Average"
            period = 60
          }
        },
        {
          type   = "metric"
          x      = 8
          y      = 18
          width  = 12
          height = 6
          properties = {
            metrics = [
              [
                "AWS/ElastiCache",
                "CacheHitRate",
                "CacheClusterId",
                "${var.redis_replication_group_id}-001",
                {
                  label = "001"
                },
              ],
            ]
            title  = "Redis cache hit rate (%)"
            region = "us-east-1"
            stat   = "Average"
            period = 60
          }
        },
        {
          type   = "metric"
          x      = 0
          y      = 24
          width  = 12
          height = 6
          properties = {
            metrics = [
              [
                "AWS/ElastiCache",
                "DatabaseMemoryUsagePercentage",
                "CacheClusterId",
                "${var.redis_replication_group_id}-001",
                {
                  label = "001"
                },
              ],
            ]
            title  = "Redis memory used (%)"
            region = "us-east-1"
            stat   = "Average"
            period = 60
          }
        },
        {
          type   = "metric"
          x      = 12
          y      = 24
          width  = 12
          height = 6
          properties = {
            metrics = [
              [
                "AWS/ES",
                "ClusterStatus.green",
                "DomainName",
                var.opensearch_domain_domain_name,
                "ClientId",
                var.account_caller_account_id,
                {
                  label = "green"
                  color = "#2ca02c"
                },
              ],
              [
                "AWS/ES",
                "ClusterStatus.yellow",
                "DomainName",
                var.opensearch_domain_domain_name,
                "ClientId",
                var.account_caller_account_id,
                {
                  label = "yellow"
                  color = "#ffbb00"
                },
              ],
              [
                "AWS/ES",
                "ClusterStatus.red",
                "DomainName",
                var.opensearch_domain_domain_name,
                "ClientId",
                var.account_caller_account_id,
                {
                  label = "red"
                  color = "#d62728"
                },
              ],
            ]
            title  = "OpenSearch cluster health"
            region = "us-east-1"
            stat   = "Maximum"
            period = 60
          }
        },
        {
          type   = "metric"
          x      = 0
          y      = 30
          width  = 12
          height = 6
          properties = {
            metrics = [["AWS/ES", "IndexingRate", "DomainName", var.opensearch_domain_domain_name, "ClientId", var.account_caller_account_id]]
            title   = "OpenSearch indexing rate (ops/min)"
            region  = "us-east-1"
            stat    = "Average"
            period  = 60
          }
        },
        {
          type   = "metric"
          x      = 12
          y      = 30
          width  = 8
          height = 6
          properties = {
            metrics = [
              [
                "AWS/EC2",
                "CPUUtilization",
                "InstanceId",
                var.clickhouse_instance_id,
                {
                  label = "CPU (%)"
                },
              ],
              [
                "AWS/EC2",
                "NetworkIn",
                "InstanceId",
                var.clickhouse_instance_id,
                {
                  stat  = "Sum"
                  yAxis = "right"
                },
              ],
              [
                "AWS/EC2",
                "NetworkOut",
                "InstanceId",
                var.clickhouse_instance_id,
                {
                  stat  = "Sum"
                  yAxis = "right"
                },
              ],
            ]
            title  = "ClickHouse host (EC2)"
            region = "us-east-1"
            stat   = "Average"
            period = 300
          }
        },
        {
          type   = "metric"
          x      = 0
          y      = 36
          width  = 8
          height = 6
          properties = {
            metrics = [["Morket/${var.stack}", "ClickHouseQueries", "InstanceId", var.clickhouse_instance_id]]
            title   = "ClickHouse queries per minute"
            region  = "us-east-1"
            stat    = "Sum"
            period  = 60
          }
        },
        {
          type   = "metric"
          x      = 8
          y      = 36
          width  = 8
          height = 6
          properties = {
            metrics = [["Morket/${var.stack}", "ClickHouseQueryDurationMs", "InstanceId", var.clickhouse_instance_id]]
            title   = "ClickHouse query duration (ms)"
            region  = "us-east-1"
            stat    = "Average"
            period  = 60
          }
        },
        {
          type   = "text"
          x      = 0
          y      = 42
          width  = 24
          height = 3
          properties = {
            markdown = "**ClickHouse query metrics.** ClickHouse on EC2 publishes nothing to CloudWatch itself: a timer on the instance puts `Morket/${var.stack}` / `ClickHouseQueries` (queries finished in the minute, from `system.query_log`) and `ClickHouseQueryDurationMs` (their mean `query_duration_ms`), dimension `InstanceId`, every minute with the instance role. The host graph (CPU, network) is AWS's own."
          }
        },
        {
          type   = "alarm"
          x      = 0
          y      = 45
          width  = 24
          height = 6
          properties = {
            alarms = [aws_cloudwatch_metric_alarm.aurora_writer_cpu.arn, aws_cloudwatch_metric_alarm.aurora_writer_freeable_memory.arn, aws_cloudwatch_metric_alarm.aurora_reader_cpu.arn, aws_cloudwatch_metric_alarm.aurora_reader_freeable_memory.arn, aws_cloudwatch_metric_alarm.redis_001_cpu.arn, aws_cloudwatch_metric_alarm.clickhouse_cpu.arn, aws_cloudwatch_metric_alarm.backend_cpu.arn, aws_cloudwatch_metric_alarm.backend_memory.arn, aws_cloudwatch_metric_alarm.scraper_cpu.arn, aws_cloudwatch_metric_alarm.scraper_memory.arn, aws_cloudwatch_metric_alarm.temporal_worker_cpu.arn, aws_cloudwatch_metric_alarm.temporal_worker_memory.arn, aws_cloudwatch_metric_alarm.temporal_server_cpu.arn, aws_cloudwatch_metric_alarm.temporal_server_memory.arn, aws_cloudwatch_metric_alarm.alb_5xx_rate.arn, aws_cloudwatch_metric_alarm.alb_backend_response_time.arn, aws_cloudwatch_metric_alarm.alb_scraper_response_time.arn, aws_cloudwatch_metric_alarm.backend_errors.arn]
            title  = "Alarms"
          }
        },
      ]
    }),
  ][var.dashboard_dashboard_body_variant]
}

resource "aws_cloudwatch_metric_alarm" "redis_002_cpu" {
  count             = var.redis_002_cpu_enabled ? 1 : 0
  alarm_name        = "morket-${var.stack}-redis-002-cpu"
  alarm_description = "Redis node 002 engine CPU above 70 % for 10 minutes (R16.2)"
  namespace         = "AWS/ElastiCache"
  metric_name       = "EngineCPUUtilization"
  dimensions = {
    CacheClusterId = "${var.redis_replication_group_id}-002"
  }
  statistic           = "Average"
  period              = 300
  evaluation_periods  = 2
  threshold           = 70
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "missing"
  actions_enabled     = true
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  tags = {
    Name         = "morket-${var.stack}-redis-002-cpu"
    "morket:urn" = "${var.stack}::observability::aws:cloudwatch/MetricAlarm::redis-002-cpu"
  }
}
