#!/bin/sh
# Run once by the minio-buckets job (minio/mc image) after MinIO is healthy; safe to run again.
# Creates the two buckets and one account per client, each allowed into its own bucket only:
#   mlflow-artifacts  the MLflow server's artifact store (clients go through the server's proxy)
#   dvc-remote        the DVC remote the Airflow workers push data versions to
# Keys come from the environment (see .env.example) and are never echoed.
set -eu

mc alias set store http://minio:9000 "${MINIO_ROOT_USER:?}" "${MINIO_ROOT_PASSWORD:?}" >/dev/null

grant_bucket() {
    bucket="$1" access_key="$2" secret_key="$3" policy="fairgate-$1"
    mc mb --ignore-existing "store/${bucket}"
    cat > "/tmp/${policy}.json" <<JSON
{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow", "Action": ["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"],
     "Resource": ["arn:aws:s3:::${bucket}"]},
    {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload",
                                   "s3:ListMultipartUploadParts"],
     "Resource": ["arn:aws:s3:::${bucket}/*"]}
  ]
}
JSON
    mc admin policy create store "${policy}" "/tmp/${policy}.json"
    mc admin user add store "${access_key}" "${secret_key}" >/dev/null
    if ! mc admin user info store "${access_key}" --json | grep -q "\"policyName\": *\"${policy}\""; then
        mc admin policy attach store "${policy}" --user "${access_key}"
    fi
    echo "minio-buckets: bucket ${bucket} ready for its own account"
}

grant_bucket mlflow-artifacts "${MLFLOW_S3_ACCESS_KEY:?}" "${MLFLOW_S3_SECRET_KEY:?}"
grant_bucket dvc-remote "${DVC_S3_ACCESS_KEY:?}" "${DVC_S3_SECRET_KEY:?}"
