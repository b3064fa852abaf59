resource "aws_ecr_repository" "backend" {
  # checkov:skip=CKV_AWS_51:R14.2: each deploy pushes the commit SHA and moves latest, so tags are mutable; SHA tags are never reused
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
  policy = jsonencode({
    rules = [
      {
        rulePriority = 1
        selection = {
          tagStatus   = "untagged"
          countType   = "sinceImagePushed"
          countNumber = 7
          countUnit   = "days"
        }
        action = {
          type = "expire"
        }
        description = "expire untagged images after 7 days"
      },
      {
        rulePriority = 2
        selection = {
          tagStatus      = "tagged"
          countType      = "imageCountMoreThan"
          countNumber    = 20
          tagPatternList = ["*"]
        }
        action = {
          type = "expire"
        }
        description = "keep the 20 newest tagged images"
      },
    ]
  })
}

resource "aws_ecr_repository" "scraper" {
  # checkov:skip=CKV_AWS_51:R14.2: each deploy pushes the commit SHA and moves latest, so tags are mutable; SHA tags are never reused
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
  policy = jsonencode({
    rules = [
      {
        rulePriority = 1
        selection = {
          tagStatus   = "untagged"
          countType   = "sinceImagePushed"
          countNumber = 7
          countUnit   = "days"
        }
        action = {
          type = "expire"
        }
        description = "expire untagged images after 7 days"
      },
      {
        rulePriority = 2
        selection = {
          tagStatus      = "tagged"
          countType      = "imageCountMoreThan"
          countNumber    = 20
          tagPatternList = ["*"]
        }
        action = {
          type = "expire"
        }
        description = "keep the 20 newest tagged images"
      },
    ]
  })
}

resource "aws_ecr_repository" "frontend" {
  # checkov:skip=CKV_AWS_51:R14.2: each deploy pushes the commit SHA and moves latest, so tags are mutable; SHA tags are never reused
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
  policy = jsonencode({
    rules = [
      {
        rulePriority = 1
        selection = {
          tagStatus   = "untagged"
          countType   = "sinceImagePushed"
          countNumber = 7
          countUnit   = "days"
        }
        action = {
          type = "expire"
        }
        description = "expire untagged images after 7 days"
      },
      {
        rulePriority = 2
        selection = {
          tagStatus      = "tagged"
          countType      = "imageCountMoreThan"
          countNumber    = 20
          tagPatternList = ["*"]
        }
        action = {
          type = "expire"
        }
        description = "keep the 20 newest tagged images"
      },
    ]
  })
}
