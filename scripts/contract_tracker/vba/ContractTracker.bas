Attribute VB_Name = "ContractTracker"
' Contract Tracker: the callback of every button on the workbook's own ribbon tab.
'
' Every button in customUI.xml has onAction="OnRibbonAction" and a tag naming a
' Python action; this Sub hands the tag to contract_tracker.excel.macros.run_action
' through xlwings' RunPython (the standalone xlwings module of this project). The tags
' are the only place the workbook names actions: adding a button never changes VBA.
'
' Keep this file ASCII: the VBA project is stored in code page 1252. Chinese labels
' belong in customUI.xml, which is UTF-8.
Option Explicit

Public Sub OnRibbonAction(control As IRibbonControl)
    ' The tag becomes part of a Python statement: accept only [a-z0-9_] names.
    If Len(control.Tag) = 0 Or control.Tag Like "*[!a-z0-9_]*" Then
        MsgBox "This button has no valid action tag: """ & control.Tag & """.", _
               vbExclamation, "Contract Tracker"
        Exit Sub
    End If
    ' An error in xlwings' VBA (an unreadable xlwings.conf, security software that stops
    ' Excel starting programs) would otherwise stop in the VBA editor: say what to do.
    On Error GoTo Failed
    RunPython "import contract_tracker.excel.macros as m; m.run_action('" & control.Tag & "')"
    Exit Sub
Failed:
    MsgBox "Contract Tracker could not start Python (VBA error " & Err.Number & ": " & _
           Err.Description & ")." & vbCrLf & vbCrLf & _
           "Run 'contract-tracker excel-setup' for this workbook again (it writes " & _
           "xlwings.conf beside it), and check that your security software lets Excel " & _
           "start programs. README.md, 'Using it in Excel', has the details.", _
           vbCritical, "Contract Tracker"
End Sub
