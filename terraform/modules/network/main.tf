resource "aws_vpc" "vpc" {
  cidr_block           = "10.0.0.0/16"
  enable_dns_support   = true
  enable_dns_hostnames = true
  instance_tenancy     = "default"
  tags = {
    Name         = "morket-${var.stack}-vpc"
    "morket:urn" = "${var.stack}::network::aws:ec2/Vpc::vpc"
  }
}

resource "aws_default_security_group" "default_sg" {
  vpc_id = aws_vpc.vpc.id
  tags = {
    Name         = "morket-${var.stack}-default"
    "morket:urn" = "${var.stack}::network::aws:ec2/DefaultSecurityGroup::default-sg"
  }
}

data "aws_availability_zones" "zones" {
  # checkov:skip=CKV_AWS_394:the lookup only asserts the configured zones exist (the preview fails otherwise); its list places nothing
}

resource "aws_subnet" "public_us_east_1a" {
  vpc_id                  = aws_vpc.vpc.id
  cidr_block              = "10.0.0.0/24"
  availability_zone       = "us-east-1a"
  map_public_ip_on_launch = false
  tags = {
    Name         = "morket-${var.stack}-public-us-east-1a"
    Tier         = "public"
    "morket:urn" = "${var.stack}::network::aws:ec2/Subnet::public-us-east-1a"
  }
  depends_on = [data.aws_availability_zones.zones]
}

resource "aws_subnet" "private_us_east_1a" {
  vpc_id                  = aws_vpc.vpc.id
  cidr_block              = "10.0.10.0/24"
  availability_zone       = "us-east-1a"
  map_public_ip_on_launch = false
  tags = {
    Name         = "morket-${var.stack}-private-us-east-1a"
    Tier         = "private"
    "morket:urn" = "${var.stack}::network::aws:ec2/Subnet::private-us-east-1a"
  }
  depends_on = [data.aws_availability_zones.zones]
}

resource "aws_subnet" "public_us_east_1b" {
  vpc_id                  = aws_vpc.vpc.id
  cidr_block              = "10.0.1.0/24"
  availability_zone       = "us-east-1b"
  map_public_ip_on_launch = false
  tags = {
    Name         = "morket-${var.stack}-public-us-east-1b"
    Tier         = "public"
    "morket:urn" = "${var.stack}::network::aws:ec2/Subnet::public-us-east-1b"
  }
  depends_on = [data.aws_availability_zones.zones]
}

resource "aws_subnet" "private_us_east_1b" {
  vpc_id                  = aws_vpc.vpc.id
  cidr_block              = "10.0.11.0/24"
  availability_zone       = "us-east-1b"
  map_public_ip_on_launch = false
  tags = {
    Name         = "morket-${var.stack}-private-us-east-1b"
    Tier         = "private"
    "morket:urn" = "${var.stack}::network::aws:ec2/Subnet::private-us-east-1b"
  }
  depends_on = [data.aws_availability_zones.zones]
}

resource "aws_internet_gateway" "igw" {
  vpc_id = aws_vpc.vpc.id
  tags = {
    Name         = "morket-${var.stack}-igw"
    "morket:urn" = "${var.stack}::network::aws:ec2/InternetGateway::igw"
  }
}

resource "aws_eip" "nat_eip_us_east_1a" {
  domain = "vpc"
  tags = {
    Name         = "morket-${var.stack}-nat-us-east-1a"
    "morket:urn" = "${var.stack}::network::aws:ec2/Eip::nat-eip-us-east-1a"
  }
}

resource "aws_nat_gateway" "nat_us_east_1a" {
  allocation_id     = aws_eip.nat_eip_us_east_1a.allocation_id
  subnet_id         = aws_subnet.public_us_east_1a.id
  connectivity_type = "public"
  tags = {
    Name         = "morket-${var.stack}-nat-us-east-1a"
    "morket:urn" = "${var.stack}::network::aws:ec2/NatGateway::nat-us-east-1a"
  }
  depends_on = [aws_internet_gateway.igw]
}

resource "aws_route_table" "public_rt" {
  vpc_id = aws_vpc.vpc.id
  tags = {
    Name         = "morket-${var.stack}-public"
    "morket:urn" = "${var.stack}::network::aws:ec2/RouteTable::public-rt"
  }
}

resource "aws_route" "public_default" {
  route_table_id         = aws_route_table.public_rt.id
  destination_cidr_block = "0.0.0.0/0"
  gateway_id             = aws_internet_gateway.igw.id
}

resource "aws_route_table_association" "public_rta_us_east_1a" {
  route_table_id = aws_route_table.public_rt.id
  subnet_id      = aws_subnet.public_us_east_1a.id
}

resource "aws_route_table_association" "public_rta_us_east_1b" {
  route_table_id = aws_route_table.public_rt.id
  subnet_id      = aws_subnet.public_us_east_1b.id
}

resource "aws_route_table" "private_rt_us_east_1a" {
  vpc_id = aws_vpc.vpc.id
  tags = {
    Name         = "morket-${var.stack}-private-us-east-1a"
    "morket:urn" = "${var.stack}::network::aws:ec2/RouteTable::private-rt-us-east-1a"
  }
}

resource "aws_route" "private_default_us_east_1a" {
  route_table_id         = aws_route_table.private_rt_us_east_1a.id
  destination_cidr_block = "0.0.0.0/0"
  nat_gateway_id         = aws_nat_gateway.nat_us_east_1a.id
}

resource "aws_route_table_association" "private_rta_us_east_1a" {
  route_table_id = aws_route_table.private_rt_us_east_1a.id
  subnet_id      = aws_subnet.private_us_east_1a.id
}

resource "aws_route_table" "private_rt_us_east_1b" {
  vpc_id = aws_vpc.vpc.id
  tags = {
    Name         = "morket-${var.stack}-private-us-east-1b"
    "morket:urn" = "${var.stack}::network::aws:ec2/RouteTable::private-rt-us-east-1b"
  }
}

resource "aws_route" "private_default_us_east_1b" {
  route_table_id         = aws_route_table.private_rt_us_east_1b.id
  destination_cidr_block = "0.0.0.0/0"
  nat_gateway_id         = [one(aws_nat_gateway.nat_us_east_1b[*].id), aws_nat_gateway.nat_us_east_1a.id][var.private_default_us_east_1b_nat_gateway_id_variant]
}

resource "aws_route_table_association" "private_rta_us_east_1b" {
  route_table_id = aws_route_table.private_rt_us_east_1b.id
  subnet_id      = aws_subnet.private_us_east_1b.id
}

resource "aws_security_group" "sg_alb" {
  # checkov:skip=CKV2_AWS_5:attached in the module that uses it, through var.network_sg_*_id (ALB, ECS services, Aurora, Redis, MQ, OpenSearch, ClickHouse launch template); checkov does not follow module variables
  name        = "morket-${var.stack}-alb"
  description = "Morket ALB: HTTPS from anywhere"
  vpc_id      = aws_vpc.vpc.id
  tags = {
    Name         = "morket-${var.stack}-alb"
    "morket:urn" = "${var.stack}::network::aws:ec2/SecurityGroup::sg-alb"
  }
}

resource "aws_security_group" "sg_ecs" {
  # checkov:skip=CKV2_AWS_5:attached in the module that uses it, through var.network_sg_*_id (ALB, ECS services, Aurora, Redis, MQ, OpenSearch, ClickHouse launch template); checkov does not follow module variables
  name        = "morket-${var.stack}-ecs"
  description = "Morket ECS tasks: service ports from the ALB"
  vpc_id      = aws_vpc.vpc.id
  tags = {
    Name         = "morket-${var.stack}-ecs"
    "morket:urn" = "${var.stack}::network::aws:ec2/SecurityGroup::sg-ecs"
  }
}

resource "aws_security_group" "sg_aurora" {
  # checkov:skip=CKV2_AWS_5:attached in the module that uses it, through var.network_sg_*_id (ALB, ECS services, Aurora, Redis, MQ, OpenSearch, ClickHouse launch template); checkov does not follow module variables
  name        = "morket-${var.stack}-aurora"
  description = "Morket Aurora: PostgreSQL from ECS"
  vpc_id      = aws_vpc.vpc.id
  tags = {
    Name         = "morket-${var.stack}-aurora"
    "morket:urn" = "${var.stack}::network::aws:ec2/SecurityGroup::sg-aurora"
  }
}

resource "aws_security_group" "sg_redis" {
  # checkov:skip=CKV2_AWS_5:attached in the module that uses it, through var.network_sg_*_id (ALB, ECS services, Aurora, Redis, MQ, OpenSearch, ClickHouse launch template); checkov does not follow module variables
  name        = "morket-${var.stack}-redis"
  description = "Morket Redis: 6379 from ECS"
  vpc_id      = aws_vpc.vpc.id
  tags = {
    Name         = "morket-${var.stack}-redis"
    "morket:urn" = "${var.stack}::network::aws:ec2/SecurityGroup::sg-redis"
  }
}

resource "aws_security_group" "sg_rabbitmq" {
  # checkov:skip=CKV2_AWS_5:attached in the module that uses it, through var.network_sg_*_id (ALB, ECS services, Aurora, Redis, MQ, OpenSearch, ClickHouse launch template); checkov does not follow module variables
  name        = "morket-${var.stack}-rabbitmq"
  description = "Morket RabbitMQ: AMQPS from ECS"
  vpc_id      = aws_vpc.vpc.id
  tags = {
    Name         = "morket-${var.stack}-rabbitmq"
    "morket:urn" = "${var.stack}::network::aws:ec2/SecurityGroup::sg-rabbitmq"
  }
}

resource "aws_security_group" "sg_opensearch" {
  # checkov:skip=CKV2_AWS_5:attached in the module that uses it, through var.network_sg_*_id (ALB, ECS services, Aurora, Redis, MQ, OpenSearch, ClickHouse launch template); checkov does not follow module variables
  name        = "morket-${var.stack}-opensearch"
  description = "Morket OpenSearch: HTTPS from ECS"
  vpc_id      = aws_vpc.vpc.id
  tags = {
    Name         = "morket-${var.stack}-opensearch"
    "morket:urn" = "${var.stack}::network::aws:ec2/SecurityGroup::sg-opensearch"
  }
}

resource "aws_security_group" "sg_clickhouse" {
  # checkov:skip=CKV2_AWS_5:attached in the module that uses it, through var.network_sg_*_id (ALB, ECS services, Aurora, Redis, MQ, OpenSearch, ClickHouse launch template); checkov does not follow module variables
  name        = "morket-${var.stack}-clickhouse"
  description = "Morket ClickHouse: HTTP and native from ECS"
  vpc_id      = aws_vpc.vpc.id
  tags = {
    Name         = "morket-${var.stack}-clickhouse"
    "morket:urn" = "${var.stack}::network::aws:ec2/SecurityGroup::sg-clickhouse"
  }
}

resource "aws_security_group" "sg_temporal" {
  # checkov:skip=CKV2_AWS_5:attached in the module that uses it, through var.network_sg_*_id (ALB, ECS services, Aurora, Redis, MQ, OpenSearch, ClickHouse launch template); checkov does not follow module variables
  name        = "morket-${var.stack}-temporal"
  description = "Morket Temporal: gRPC from ECS"
  vpc_id      = aws_vpc.vpc.id
  tags = {
    Name         = "morket-${var.stack}-temporal"
    "morket:urn" = "${var.stack}::network::aws:ec2/SecurityGroup::sg-temporal"
  }
}

resource "aws_security_group_rule" "alb_https_in" {
  security_group_id = aws_security_group.sg_alb.id
  type              = "ingress"
  protocol          = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_blocks       = ["0.0.0.0/0"]
  description       = "HTTPS from anywhere"
}

resource "aws_security_group_rule" "alb_http_in" {
  # checkov:skip=CKV_AWS_260:port 80 reaches only the ALB's HTTP listener, which redirects to HTTPS (R4.2)
  security_group_id = aws_security_group.sg_alb.id
  type              = "ingress"
  protocol          = "tcp"
  from_port         = 80
  to_port           = 80
  cidr_blocks       = ["0.0.0.0/0"]
  description       = "HTTP from anywhere, redirected to HTTPS"
}

resource "aws_security_group_rule" "ecs_3000_from_alb" {
  security_group_id        = aws_security_group.sg_ecs.id
  type                     = "ingress"
  protocol                 = "tcp"
  from_port                = 3000
  to_port                  = 3000
  source_security_group_id = aws_security_group.sg_alb.id
  description              = "service port from the ALB"
}

resource "aws_security_group_rule" "ecs_8001_from_alb" {
  security_group_id        = aws_security_group.sg_ecs.id
  type                     = "ingress"
  protocol                 = "tcp"
  from_port                = 8001
  to_port                  = 8001
  source_security_group_id = aws_security_group.sg_alb.id
  description              = "service port from the ALB"
}

resource "aws_security_group_rule" "aurora_5432_from_ecs" {
  security_group_id        = aws_security_group.sg_aurora.id
  type                     = "ingress"
  protocol                 = "tcp"
  from_port                = 5432
  to_port                  = 5432
  source_security_group_id = aws_security_group.sg_ecs.id
  description              = "from ECS tasks"
}

resource "aws_security_group_rule" "redis_6379_from_ecs" {
  security_group_id        = aws_security_group.sg_redis.id
  type                     = "ingress"
  protocol                 = "tcp"
  from_port                = 6379
  to_port                  = 6379
  source_security_group_id = aws_security_group.sg_ecs.id
  description              = "from ECS tasks"
}

resource "aws_security_group_rule" "rabbitmq_5671_from_ecs" {
  security_group_id        = aws_security_group.sg_rabbitmq.id
  type                     = "ingress"
  protocol                 = "tcp"
  from_port                = 5671
  to_port                  = 5671
  source_security_group_id = aws_security_group.sg_ecs.id
  description              = "from ECS tasks"
}

resource "aws_security_group_rule" "opensearch_443_from_ecs" {
  security_group_id        = aws_security_group.sg_opensearch.id
  type                     = "ingress"
  protocol                 = "tcp"
  from_port                = 443
  to_port                  = 443
  source_security_group_id = aws_security_group.sg_ecs.id
  description              = "from ECS tasks"
}

resource "aws_security_group_rule" "clickhouse_8123_from_ecs" {
  security_group_id        = aws_security_group.sg_clickhouse.id
  type                     = "ingress"
  protocol                 = "tcp"
  from_port                = 8123
  to_port                  = 8123
  source_security_group_id = aws_security_group.sg_ecs.id
  description              = "from ECS tasks"
}

resource "aws_security_group_rule" "clickhouse_9000_from_ecs" {
  security_group_id        = aws_security_group.sg_clickhouse.id
  type                     = "ingress"
  protocol                 = "tcp"
  from_port                = 9000
  to_port                  = 9000
  source_security_group_id = aws_security_group.sg_ecs.id
  description              = "from ECS tasks"
}

resource "aws_security_group_rule" "temporal_7233_from_ecs" {
  security_group_id        = aws_security_group.sg_temporal.id
  type                     = "ingress"
  protocol                 = "tcp"
  from_port                = 7233
  to_port                  = 7233
  source_security_group_id = aws_security_group.sg_ecs.id
  description              = "from ECS tasks"
}

resource "aws_cloudwatch_log_group" "flow_log_group" {
  # checkov:skip=CKV_AWS_158:encrypted at rest by CloudWatch Logs with service-managed keys; the stack uses AWS default keys throughout, no CMK
  name              = "/morket/${var.stack}/vpc-flow-logs"
  retention_in_days = var.flow_log_group_retention_in_days
  tags = {
    Name         = "morket-${var.stack}-vpc-flow-logs"
    "morket:urn" = "${var.stack}::network::aws:logs/LogGroup::flow-log-group"
  }
}

resource "aws_iam_role" "flow_log_role" {
  name                 = "morket-${var.stack}-vpc-flow-logs"
  assume_role_policy   = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"Service\":\"vpc-flow-logs.amazonaws.com\"},\"Action\":\"sts:AssumeRole\"}]}"
  description          = "Publishes the Morket VPC flow logs to CloudWatch Logs"
  max_session_duration = 3600
  tags = {
    Name         = "morket-${var.stack}-vpc-flow-logs"
    "morket:urn" = "${var.stack}::network::aws:iam/Role::flow-log-role"
  }
}

resource "aws_iam_role_policy" "flow_log_role" {
  for_each = {
    "publish-flow-logs" = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":[\"logs:CreateLogStream\",\"logs:PutLogEvents\",\"logs:DescribeLogGroups\",\"logs:DescribeLogStreams\"],\"Resource\":[\"arn:aws:logs:us-east-1:*:log-group:/morket/${var.stack}/vpc-flow-logs\",\"arn:aws:logs:us-east-1:*:log-group:/morket/${var.stack}/vpc-flow-logs:*\"]}]}"
  }
  role   = aws_iam_role.flow_log_role.id
  name   = each.key
  policy = each.value
}

resource "aws_flow_log" "flow_log" {
  vpc_id                   = aws_vpc.vpc.id
  traffic_type             = "ALL"
  log_destination_type     = "cloud-watch-logs"
  log_destination          = aws_cloudwatch_log_group.flow_log_group.arn
  iam_role_arn             = aws_iam_role.flow_log_role.arn
  max_aggregation_interval = 600
  tags = {
    Name         = "morket-${var.stack}-vpc-flow-logs"
    "morket:urn" = "${var.stack}::network::aws:ec2/FlowLog::flow-log"
  }
}

resource "aws_eip" "nat_eip_us_east_1b" {
  count  = var.nat_eip_us_east_1b_enabled ? 1 : 0
  domain = "vpc"
  tags = {
    Name         = "morket-${var.stack}-nat-us-east-1b"
    "morket:urn" = "${var.stack}::network::aws:ec2/Eip::nat-eip-us-east-1b"
  }
}

resource "aws_nat_gateway" "nat_us_east_1b" {
  count             = var.nat_us_east_1b_enabled ? 1 : 0
  allocation_id     = aws_eip.nat_eip_us_east_1b[0].allocation_id
  subnet_id         = aws_subnet.public_us_east_1b.id
  connectivity_type = "public"
  tags = {
    Name         = "morket-${var.stack}-nat-us-east-1b"
    "morket:urn" = "${var.stack}::network::aws:ec2/NatGateway::nat-us-east-1b"
  }
  depends_on = [aws_internet_gateway.igw]
}
