"""Term reports (工作计划执行、完成情况): composed from the plan and what staff recorded,
rendered as HTML, DOCX, PDF and XLSX, generated on demand or at term end."""
