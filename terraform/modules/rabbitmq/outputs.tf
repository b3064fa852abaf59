output "admin_password_result" {
  value     = random_password.admin_password.result
  sensitive = true
}

output "broker_amqps_endpoint" {
  value = aws_mq_broker.broker.instances[0].endpoints[0]
}
