resource "aws_backup_vault" "vault" {
  # checkov:skip=CKV_AWS_166:the AWS-managed aws/backup key; EBS snapshots keep the volume's encryption; no CMK
  name          = "morket-${var.stack}-clickhouse-backup"
  force_destroy = var.vault_force_destroy
  tags = {
    Name         = "morket-${var.stack}-clickhouse-backup"
    "morket:urn" = "${var.stack}::backup::aws:backup/Vault::vault"
  }
}

resource "aws_iam_role" "role" {
  name                 = "morket-${var.stack}-clickhouse-backup"
  assume_role_policy   = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"Service\":\"backup.amazonaws.com\"},\"Action\":\"sts:AssumeRole\"}]}"
  description          = "AWS Backup of the ClickHouse data volume"
  max_session_duration = 3600
  tags = {
    Name         = "morket-${var.stack}-clickhouse-backup"
    "morket:urn" = "${var.stack}::backup::aws:iam/Role::role"
  }
}

resource "aws_iam_role_policy_attachment" "role" {
  for_each   = toset(["arn:${var.account_caller_partition}:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup", "arn:${var.account_caller_partition}:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForRestores"])
  role       = aws_iam_role.role.id
  policy_arn = each.value
}

resource "aws_backup_plan" "plan" {
  name = "morket-${var.stack}-clickhouse-backup"
  tags = {
    Name         = "morket-${var.stack}-clickhouse-backup"
    "morket:urn" = "${var.stack}::backup::aws:backup/Plan::plan"
  }

  rule {
    rule_name         = "daily"
    target_vault_name = aws_backup_vault.vault.name
    schedule          = "cron(0 5 ? * * *)"
    start_window      = 60
    completion_window = 180

    lifecycle {
      delete_after = 7
    }
  }
}

resource "aws_backup_selection" "selection" {
  name         = "clickhouse-data"
  plan_id      = aws_backup_plan.plan.id
  iam_role_arn = aws_iam_role.role.arn
  resources    = [var.clickhouse_data_arn]
}
