output "data_arn" {
  value = aws_ebs_volume.data.arn
}

output "instance_id" {
  value = aws_instance.instance.id
}

output "instance_private_ip" {
  value = aws_instance.instance.private_ip
}
