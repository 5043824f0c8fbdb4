DROP TABLE machine_work_due;
