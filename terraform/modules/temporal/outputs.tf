output "temporal_server_name" {
  value = aws_ecs_service.temporal_server.name
}
