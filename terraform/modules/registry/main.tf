resource "aws_ecr_repository" "backend" {
  name                 = "morket-${var.stack}-backend"
  image_tag_mutability = "MUTABLE"
  force_delete         = var.backend_force_delete
  tags = {
    Name         = "morket-${var.stack}-ecr-backend"
    "morket:urn" = "${var.stack}::registry::aws:ecr/Repository::backend"
  }

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
  }
}

resource "aws_ecr_lifecycle_policy" "backend_lifecycle" {
  repository = aws_ecr_repository.backend.name
  policy = {
    rules = [
      {
        rule_priority = 1
        description   = "expire untagged images after 7 days"
        selection = {
          tag_status   = "untagged"
          count_type   = "sinceImagePushed"
          count_unit   = "days"
          count_number = 7
        }
        action = "expire"
      },
      {
        rule_priority = 2
        description   = "keep the 20 newest tagged images"
        selection = {
          tag_status       = "tagged"
          tag_pattern_list = ["*"]
          count_type       = "imageCountMoreThan"
          count_number     = 20
        }
        action = "expire"
      },
    ]
  }
}

resource "aws_ecr_repository" "scraper" {
  name                 = "morket-${var.stack}-scraper"
  image_tag_mutability = "MUTABLE"
  force_delete         = var.scraper_force_delete
  tags = {
    Name         = "morket-${var.stack}-ecr-scraper"
    "morket:urn" = "${var.stack}::registry::aws:ecr/Repository::scraper"
  }

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
  }
}

resource "aws_ecr_lifecycle_policy" "scraper_lifecycle" {
  repository = aws_ecr_repository.scraper.name
  policy = {
    rules = [
      {
        rule_priority = 1
        description   = "expire untagged images after 7 days"
        selection = {
          tag_status   = "untagged"
          count_type   = "sinceImagePushed"
          count_unit   = "days"
          count_number = 7
        }
        action = "expire"
      },
      {
        rule_priority = 2
        description   = "keep the 20 newest tagged images"
        selection = {
          tag_status       = "tagged"
          tag_pattern_list = ["*"]
          count_type       = "imageCountMoreThan"
          count_number     = 20
        }
        action = "expire"
      },
    ]
  }
}

resource "aws_ecr_repository" "frontend" {
  name                 = "morket-${var.stack}-frontend"
  image_tag_mutability = "MUTABLE"
  force_delete         = var.frontend_force_delete
  tags = {
    Name         = "morket-${var.stack}-ecr-frontend"
    "morket:urn" = "${var.stack}::registry::aws:ecr/Repository::frontend"
  }

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
  }
}

resource "aws_ecr_lifecycle_policy" "frontend_lifecycle" {
  repository = aws_ecr_repository.frontend.name
  policy = {
    rules = [
      {
        rule_priority = 1
        description   = "expire untagged images after 7 days"
        selection = {
          tag_status   = "untagged"
          count_type   = "sinceImagePushed"
          count_unit   = "days"
          count_number = 7
        }
        action = "expire"
      },
      {
        rule_priority = 2
        description   = "keep the 20 newest tagged images"
        selection = {
          tag_status       = "tagged"
          tag_pattern_list = ["*"]
          count_type       = "imageCountMoreThan"
          count_number     = 20
        }
        action = "expire"
      },
    ]
  }
}
