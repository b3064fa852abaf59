output "backend_name" {
  value = aws_ecr_repository.backend.name
}

output "backend_repository_url" {
  value = aws_ecr_repository.backend.repository_url
}

output "frontend_repository_url" {
  value = aws_ecr_repository.frontend.repository_url
}

output "scraper_name" {
  value = aws_ecr_repository.scraper.name
}

output "scraper_repository_url" {
  value = aws_ecr_repository.scraper.repository_url
}
