"""The Excel front end: the workbook's VBA project, its ribbon, and the xlwings macros."""
