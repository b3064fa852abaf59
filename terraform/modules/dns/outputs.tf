output "zone_zone_id" {
  value = data.aws_route53_zone.zone.zone_id
}
