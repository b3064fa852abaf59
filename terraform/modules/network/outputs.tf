output "igw_id" {
  value = aws_internet_gateway.igw.id
}

output "nat_us_east_1a_public_ip" {
  value = aws_nat_gateway.nat_us_east_1a.public_ip
}

output "nat_us_east_1b_public_ip" {
  value = one(aws_nat_gateway.nat_us_east_1b[*].public_ip)
}

output "private_default_us_east_1a_id" {
  value = aws_route.private_default_us_east_1a.id
}

output "private_rta_us_east_1a_id" {
  value = aws_route_table_association.private_rta_us_east_1a.id
}

output "private_us_east_1a_id" {
  value = aws_subnet.private_us_east_1a.id
}

output "private_us_east_1b_id" {
  value = aws_subnet.private_us_east_1b.id
}

output "public_us_east_1a_id" {
  value = aws_subnet.public_us_east_1a.id
}

output "public_us_east_1b_id" {
  value = aws_subnet.public_us_east_1b.id
}

output "sg_alb_id" {
  value = aws_security_group.sg_alb.id
}

output "sg_aurora_id" {
  value = aws_security_group.sg_aurora.id
}

output "sg_clickhouse_id" {
  value = aws_security_group.sg_clickhouse.id
}

output "sg_ecs_id" {
  value = aws_security_group.sg_ecs.id
}

output "sg_opensearch_id" {
  value = aws_security_group.sg_opensearch.id
}

output "sg_rabbitmq_id" {
  value = aws_security_group.sg_rabbitmq.id
}

output "sg_redis_id" {
  value = aws_security_group.sg_redis.id
}

output "sg_temporal_id" {
  value = aws_security_group.sg_temporal.id
}

output "vpc_id" {
  value = aws_vpc.vpc.id
}
