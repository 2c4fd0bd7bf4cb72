/** pg-boss keeps its tables in this schema of the application database. */
export const JOB_SCHEMA = "pgboss";
