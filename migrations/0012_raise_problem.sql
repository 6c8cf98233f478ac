-- raise_problem(code): aborts the statement that calls it with SQLSTATE P0001 and `code` as the
-- message. A statement that writes an order and its payment together (data-modifying CTEs) calls it
-- when the payment was refused, so that nothing the statement wrote stays.
CREATE FUNCTION raise_problem(code text) RETURNS text LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  RAISE EXCEPTION USING ERRCODE = 'P0001', MESSAGE = code;
END
$$;
