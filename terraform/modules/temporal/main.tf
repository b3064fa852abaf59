resource "aws_security_group_rule" "aurora_5432_from_temporal" {
  security_group_id        = var.network_sg_aurora_id
  type                     = "ingress"
  protocol                 = "tcp"
  from_port                = 5432
  to_port                  = 5432
  source_security_group_id = var.network_sg_temporal_id
  description              = "from the Temporal server"
}

resource "aws_service_discovery_private_dns_namespace" "namespace" {
  name        = "morket.local"
  vpc         = var.network_vpc_id
  description = "Morket ${var.stack} internal names"
  tags = {
    Name         = "morket-${var.stack}-namespace"
    "morket:urn" = "${var.stack}::temporal::aws:servicediscovery/PrivateDnsNamespace::namespace"
  }

  lifecycle {
    ignore_changes = [vpc]
  }
}

resource "aws_service_discovery_service" "discovery" {
  name         = "temporal"
  namespace_id = aws_service_discovery_private_dns_namespace.namespace.id
  tags = {
    Name         = "morket-${var.stack}-temporal-discovery"
    "morket:urn" = "${var.stack}::temporal::aws:servicediscovery/Service::discovery"
  }

  dns_config {
    namespace_id   = aws_service_discovery_private_dns_namespace.namespace.id
    routing_policy = "MULTIVALUE"

    dns_records {
      type = "A"
      ttl  = 10
    }
  }

  health_check_custom_config {
    failure_threshold = 1
  }
}

resource "aws_cloudwatch_log_group" "temporal_server_logs" {
  # checkov:skip=CKV_AWS_158:encrypted at rest by CloudWatch Logs with service-managed keys; the stack uses AWS default keys throughout, no CMK
  name              = "/ecs/morket-${var.stack}-temporal-server"
  retention_in_days = var.temporal_server_logs_retention_in_days
  tags = {
    Name         = "morket-${var.stack}-temporal-server"
    "morket:urn" = "${var.stack}::temporal::aws:logs/LogGroup::temporal-server-logs"
  }
}

resource "aws_iam_role" "temporal_server_execution" {
  name                 = "morket-${var.stack}-temporal-server-execution"
  assume_role_policy   = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"Service\":\"ecs-tasks.amazonaws.com\"},\"Action\":\"sts:AssumeRole\"}]}"
  description          = "Starts the Morket temporal-server tasks: image pull, logs, secrets"
  max_session_duration = 3600
  tags = {
    Name         = "morket-${var.stack}-temporal-server-execution"
    "morket:urn" = "${var.stack}::temporal::aws:iam/Role::temporal-server-execution"
  }
}

resource "aws_iam_role_policy" "temporal_server_execution" {
  for_each = {
    "read-own-secrets" = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"secretsmanager:GetSecretValue\",\"Resource\":\"${var.aurora_cluster_master_user_secret_arn}\"}]}"
  }
  role   = aws_iam_role.temporal_server_execution.id
  name   = each.key
  policy = each.value
}

resource "aws_iam_role_policy_attachment" "temporal_server_execution" {
  for_each   = toset(["arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"])
  role       = aws_iam_role.temporal_server_execution.id
  policy_arn = each.value
}

resource "aws_ecs_task_definition" "temporal_server_task" {
  # checkov:skip=CKV_AWS_336:temporalio/auto-setup writes its config under /etc/temporal at start, so it needs a writable root
  family                   = "morket-${var.stack}-temporal-server"
  cpu                      = "1024"
  memory                   = "2048"
  network_mode             = "awsvpc"
  requires_compatibilities = ["FARGATE"]
  execution_role_arn       = aws_iam_role.temporal_server_execution.arn
  container_definitions = jsonencode([
    {
      name      = "temporal-server"
      image     = "temporalio/auto-setup:1.24.2"
      essential = true
      cpu       = 0
      portMappings = [
        {
          containerPort = 7233
          protocol      = "tcp"
        },
      ]
      environment = [
        {
          name  = "DB"
          value = "postgres12"
        },
        {
          name  = "DB_PORT"
          value = "5432"
        },
        {
          name  = "POSTGRES_SEEDS"
          value = var.aurora_cluster_endpoint
        },
        {
          name  = "DBNAME"
          value = "temporal"
        },
        {
          name  = "VISIBILITY_DBNAME"
          value = "temporal_visibility"
        },
        {
          name  = "POSTGRES_TLS_ENABLED"
          value = "true"
        },
        {
          name  = "POSTGRES_TLS_DISABLE_HOST_VERIFICATION"
          value = "true"
        },
        {
          name  = "SQL_TLS_ENABLED"
          value = "true"
        },
        {
          name  = "SQL_HOST_VERIFICATION"
          value = "false"
        },
        {
          name  = "SKIP_DEFAULT_NAMESPACE_CREATION"
          value = "false"
        },
        {
          name  = "DEFAULT_NAMESPACE"
          value = "default"
        },
      ]
      secrets = [
        {
          name      = "POSTGRES_USER"
          valueFrom = "${var.aurora_cluster_master_user_secret_arn}:username::"
        },
        {
          name      = "POSTGRES_PWD"
          valueFrom = "${var.aurora_cluster_master_user_secret_arn}:password::"
        },
      ]
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          "awslogs-group"         = aws_cloudwatch_log_group.temporal_server_logs.name
          "awslogs-region"        = "us-east-1"
          "awslogs-stream-prefix" = "ecs"
        }
      }
      healthCheck = {
        command     = ["CMD-SHELL", "nc -z $(hostname -i) 7233 || exit 1"]
        interval    = 30
        timeout     = 5
        retries     = 3
        startPeriod = 180
      }
    },
  ])
  tags = {
    Name         = "morket-${var.stack}-temporal-server"
    "morket:urn" = "${var.stack}::temporal::aws:ecs/TaskDefinition::temporal-server-task"
  }
}

resource "aws_ecs_service" "temporal_server" {
  name                               = "morket-${var.stack}-temporal-server"
  cluster                            = var.ecs_cluster_arn
  task_definition                    = aws_ecs_task_definition.temporal_server_task.arn
  desired_count                      = 1
  launch_type                        = "FARGATE"
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200
  enable_execute_command             = false
  wait_for_steady_state              = true
  tags = {
    Name         = "morket-${var.stack}-temporal-server"
    "morket:urn" = "${var.stack}::temporal::aws:ecs/Service::temporal-server"
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = [var.network_private_us_east_1a_id, var.network_private_us_east_1b_id]
    security_groups  = [var.network_sg_temporal_id]
    assign_public_ip = false
  }

  service_registries {
    registry_arn = aws_service_discovery_service.discovery.arn
  }
  depends_on = [aws_security_group_rule.aurora_5432_from_temporal, var.aurora_writer_id]
}
